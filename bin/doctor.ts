/**
 * `keygate doctor`: prints the effective configuration (secrets masked), then checks the
 * database, the admin plane, the local gateway, Redis and each target's upstream (and its
 * credential variable). Exit 0 when nothing failed (warnings allowed), 1 otherwise.
 */
import type { Config } from '../src/config/config.js';
import {
  checkCredential,
  checkDatabase,
  checkHttp,
  checkRedis,
  effectiveConfig,
  type Finding,
} from './doctor-checks.js';
import { localUrl } from './health.js';

type Env = Readonly<Record<string, string | undefined>>;

export async function runDoctor(
  config: Readonly<Config>,
  env: Env,
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<number> {
  write('keygate doctor\n\nconfiguration (environment, secrets masked):');
  for (const line of effectiveConfig(env)) write(`  ${line}`);
  const findings: Finding[] = [];
  const database = checkDatabase(config.dbPath);
  findings.push(...database.findings);
  // Where `keygate start` puts it: KEYGATE_ADMIN_URL when set, else the local host and port.
  const adminUrl =
    env.KEYGATE_ADMIN_URL === undefined || env.KEYGATE_ADMIN_URL === ''
      ? localUrl(config.adminHost, config.adminPort)
      : config.adminUrl;
  findings.push(await checkHttp('admin plane', `${adminUrl}/healthz`, true));
  findings.push(
    await checkHttp('gateway', `${localUrl(config.gatewayHost, config.gatewayPort)}/healthz`, true),
  );
  findings.push(await checkRedis(config));
  for (const target of database.targets) {
    findings.push(await checkHttp(`target ${target.name}: upstream`, target.base_url, false));
    const credential = checkCredential(target, env);
    if (credential !== undefined) findings.push(credential);
  }
  write('\nchecks:');
  for (const finding of findings) write(`  ${finding.level.padEnd(4)} ${finding.message}`);
  const failed = findings.filter((finding) => finding.level === 'fail').length;
  const warned = findings.filter((finding) => finding.level === 'warn').length;
  write(
    `\n${failed === 0 ? 'no problems' : `${failed} problem(s)`}${warned > 0 ? `, ${warned} warning(s)` : ''}`,
  );
  return failed === 0 ? 0 : 1;
}
