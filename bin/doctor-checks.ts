/**
 * The checks of `keygate doctor`, each returning findings (ok / warn / fail) instead of throwing:
 * the effective configuration with secrets masked, the SQLite file (integrity, WAL, permissions),
 * and whether the admin plane, Redis and every target's upstream answer.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { CONFIG_VARIABLES, type Config } from '../src/config/config.js';
import { connectRedis, waitUntilReady } from '../src/ratelimit/redis-connection.js';
import {
  appliedSchemaVersion,
  openDatabaseReadOnly,
  SCHEMA_VERSION,
  type Database,
} from '../src/storage/database.js';
import { allTargets, type TargetRow } from '../src/storage/target-repository.js';

export type Level = 'ok' | 'warn' | 'fail';
export interface Finding {
  level: Level;
  message: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Every variable holding a secret (the metrics token and the webhook's HMAC key were printed). */
const SECRETS = new Set([
  'KEYGATE_MASTER_KEY',
  'KEYGATE_JWT_SECRET',
  'KEYGATE_INTERNAL_SECRET',
  'KEYGATE_METRICS_TOKEN',
  'KEYGATE_ALERT_WEBHOOK_SECRET',
]);

/** Secrets show their first 4 characters and their length; URLs (also in comma-separated lists) lose their password. */
export function maskValue(name: string, value: string): string {
  if (SECRETS.has(name)) return `${value.slice(0, 4)}… (${value.length} characters, masked)`;
  return value.split(',').map(maskUrlCredentials).join(',');
}

/** `scheme://user:password@host…` → `scheme://user:****@host…` (a lone user part is masked whole). */
function maskUrlCredentials(entry: string): string {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is.exec(entry);
  if (match === null) return entry;
  const [, scheme, authority, rest] = match as unknown as [string, string, string, string];
  const at = authority.lastIndexOf('@');
  if (at < 0) return entry;
  const userinfo = authority.slice(0, at);
  const colon = userinfo.indexOf(':');
  const user = colon < 0 ? '' : `${userinfo.slice(0, colon)}:`;
  return `${scheme}${user}****${authority.slice(at)}${rest}`;
}

export function effectiveConfig(env: Env): string[] {
  return Object.entries(CONFIG_VARIABLES).map(([name, variable]) => {
    const set = env[name] !== undefined && env[name] !== '';
    const value = set ? env[name]! : variable.default;
    const shown = value === undefined ? '(unset)' : maskValue(name, value);
    return `${name.padEnd(30)} ${shown}${set ? '' : '  [default]'}`;
  });
}

/** What the doctor checks of a target: its upstream and the variable holding its credential. */
export type DoctorTarget = Pick<TargetRow, 'name' | 'base_url' | 'api_key_env'>;

/** The file's schema against this code's: older migrates at the next start (forward only). */
export function schemaFinding(applied: number): Finding {
  if (applied === SCHEMA_VERSION)
    return { level: 'ok', message: `database schema version ${applied} (current)` };
  if (applied < SCHEMA_VERSION) {
    return {
      level: 'warn',
      message:
        `database schema version ${applied}: the admin plane migrates it to ${SCHEMA_VERSION} at its next start ` +
        '(forward only: keep a copy to go back)',
    };
  }
  return {
    level: 'fail',
    message: `database schema version ${applied} is newer than this keygate's (${SCHEMA_VERSION}): run the release that wrote it`,
  };
}

/** Integrity, journal mode, schema version and permissions of the database; the targets it holds. */
export function checkDatabase(path: string): { findings: Finding[]; targets: DoctorTarget[] } {
  const findings: Finding[] = [];
  if (!existsSync(path)) {
    const dir = dirname(path);
    try {
      accessSync(existsSync(dir) ? dir : dirname(dir), constants.W_OK);
      findings.push({
        level: 'warn',
        message: `database ${path} does not exist yet (created on first start)`,
      });
    } catch {
      findings.push({ level: 'fail', message: `database ${path} does not exist and ${dir} is not writable` });
    }
    return { findings, targets: [] };
  }
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    accessSync(dirname(path), constants.W_OK);
    findings.push({ level: 'ok', message: `database ${path} and its directory are writable` });
  } catch {
    findings.push({
      level: 'fail',
      message: `database ${path} or its directory is not writable by this user`,
    });
  }
  const mode = statSync(path).mode & 0o777;
  findings.push(
    (mode & 0o007) === 0
      ? { level: 'ok', message: `database permissions ${mode.toString(8)} (no access for others)` }
      : {
          level: 'warn',
          message: `database permissions ${mode.toString(8)}: readable by other users (chmod 600)`,
        },
  );
  let db: Database | undefined;
  try {
    db = openDatabaseReadOnly(path);
    db.pragma('busy_timeout = 2000');
    const integrity = db.pragma('integrity_check', { simple: true });
    findings.push(
      integrity === 'ok'
        ? { level: 'ok', message: 'database integrity_check: ok' }
        : { level: 'fail', message: `database integrity_check: ${String(integrity)}` },
    );
    const journal = String(db.pragma('journal_mode', { simple: true }));
    findings.push(
      journal === 'wal'
        ? { level: 'ok', message: 'database journal_mode: wal' }
        : { level: 'fail', message: `database journal_mode is ${journal}, expected wal` },
    );
    findings.push(schemaFinding(appliedSchemaVersion(db)));
    const wal = `${path}-wal`;
    if (existsSync(wal)) {
      const mb = statSync(wal).size / 1e6;
      findings.push({ level: mb > 512 ? 'warn' : 'ok', message: `WAL file ${mb.toFixed(1)} MB` });
    }
    const targets = allTargets(db).map(({ name, base_url, api_key_env }) => ({
      name,
      base_url,
      api_key_env,
    }));
    return { findings, targets };
  } catch (error) {
    findings.push({ level: 'fail', message: `database cannot be read: ${(error as Error).message}` });
    return { findings, targets: [] };
  } finally {
    db?.close();
  }
}

/** Any HTTP answer counts as reachable (an upstream's root may well answer 404). */
export async function checkHttp(label: string, url: string, wantOk: boolean): Promise<Finding> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
    await response.arrayBuffer();
    if (wantOk && !response.ok)
      return { level: 'fail', message: `${label} ${url} answered ${response.status}` };
    return { level: 'ok', message: `${label} ${url} reachable (${response.status})` };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    return { level: 'fail', message: `${label} ${url} not reachable (${cause})` };
  }
}

export async function checkRedis(config: Readonly<Config>): Promise<Finding> {
  if (config.redisUrl === undefined)
    return { level: 'ok', message: 'Redis not configured (REDIS_URL unset)' };
  const shown = maskValue('REDIS_URL', config.redisUrl);
  if (config.redis === undefined) return { level: 'fail', message: `REDIS_URL ${shown} is not a Redis URL` };
  // The same connection code as the planes (one server or a cluster's seeds).
  const redis = connectRedis(config.redis, { commandTimeoutMs: 2000 });
  redis.on('error', () => undefined);
  try {
    if (!(await waitUntilReady(redis, 2000))) throw new Error('no answer within 2 s');
    const pong = await redis.ping();
    return { level: 'ok', message: `Redis ${shown} answers ${pong}` };
  } catch (error) {
    return { level: 'fail', message: `Redis ${shown} not reachable (${(error as Error).message})` };
  } finally {
    redis.disconnect();
  }
}

export function checkCredential(target: DoctorTarget, env: Env): Finding | undefined {
  if (target.api_key_env === null) return undefined;
  return env[target.api_key_env] === undefined || env[target.api_key_env] === ''
    ? {
        level: 'fail',
        message: `target ${target.name}: ${target.api_key_env} is not set in this environment`,
      }
    : { level: 'ok', message: `target ${target.name}: ${target.api_key_env} is set` };
}
