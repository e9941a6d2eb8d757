/**
 * The admin plane and gateway of a bench run, started from compiled JS as two processes on
 * 127.0.0.1 with a throw-away SQLite file, plus the fixture every gateway scenario uses:
 *
 * - org `bench` → team `bench-team` → target `bench-model` (the mock upstream), a service account;
 * - the hot key (no limits), a rate-limited key (rpm 1 and rpd 1, so no minute rollover lets a
 *   request through), and in org `bench-limits` a key whose key, team and org carry all five
 *   windows and a budget, set far above what a run can reach;
 * - seeded straight into SQLite: `keys` warm keys (with window limits, so the gateway keeps
 *   counters for each), `coldKeys` keys nothing touches before `cold-misses`, and the keys the
 *   revocation trials revoke.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { call, jsonOf } from './load.js';
import { freePort, makeTempDir, waitForHttp, type Child, type ProcessGroup } from './processes.js';
import { seedKeys, type SeededKey } from './seed.js';

export const MODEL = 'bench-model';
export const CHAT_PATH = '/v1/chat/completions';
/** Answered by the gateway from the key's policy alone (no upstream call). */
export const MODELS_PATH = '/v1/models';
export const CHAT_BODY = JSON.stringify({
  model: MODEL,
  messages: [{ role: 'user', content: 'Say hello to the benchmark, briefly.' }],
  max_tokens: 16,
});
export const STREAM_BODY = JSON.stringify({
  model: MODEL,
  messages: [{ role: 'user', content: 'Stream a short answer to the benchmark.' }],
  max_tokens: 64,
  stream: true,
});

/** "Never reached" limits: all five windows and a budget on key, team and org. */
const HIGH = {
  max_budget: 1_000_000,
  rpm_limit: 1_000_000_000,
  tpm_limit: 1_000_000_000_000,
  rph_limit: 1_000_000_000,
  rpd_limit: 1_000_000_000,
  tpd_limit: 1_000_000_000_000,
};
const SEEDED_LIMITS = { rpm: 1_000_000_000, tpm: 1_000_000_000_000 };
/** bench/gc-hook.ts: compiled next to this file, or the TypeScript itself when run through tsx. */
const GC_HOOK = [new URL('./gc-hook.js', import.meta.url), new URL('./gc-hook.ts', import.meta.url)]
  .map((url) => fileURLToPath(url))
  .find((path) => existsSync(path))!;

/** A command the gateway runs under (valgrind: bench/callgrind-many-keys.ts), and how long it may take to start. */
export interface Wrapper {
  command: readonly string[];
  startTimeoutMs: number;
}

export interface PlanesOptions {
  upstreamUrl: string;
  keys: number;
  coldKeys: number;
  revocationKeys: number;
  /** When set, both planes run under `node --cpu-prof` and write their profiles under it on exit. */
  profileDir?: string;
  log: (line: string) => void;
}

export class Planes {
  adminChild!: Child;
  gatewayChild!: Child;
  hotKey = '';
  rateLimitedKey = '';
  limitsKey = '';
  warmKeys: SeededKey[] = [];
  coldKeys: SeededKey[] = [];
  revocationKeys: SeededKey[] = [];
  /** Warm keys known to be in the gateway's cache (set by the prefill). */
  warmLoaded = false;
  private readonly dir = makeTempDir('keygate-bench-');
  readonly dbPath = join(this.dir, 'keygate.db');
  readonly masterKey = `bench-master-${randomBytes(16).toString('hex')}`;
  private readonly internalSecret = randomBytes(32).toString('hex');
  private readonly jwtSecret = randomBytes(32).toString('hex');
  adminPort = 0;
  gatewayPort = 0;

  private constructor(
    private readonly group: ProcessGroup,
    private readonly options: PlanesOptions,
  ) {}

  get adminUrl(): string {
    return `http://127.0.0.1:${this.adminPort}`;
  }

  get gatewayUrl(): string {
    return `http://127.0.0.1:${this.gatewayPort}`;
  }

  static available(group: ProcessGroup): string | undefined {
    const missing = ['admin/main', 'gateway/main'].filter((entry) => !group.has(entry, true));
    return missing.length === 0
      ? undefined
      : `not built yet: ${missing.map((entry) => `${entry}.js`).join(', ')}`;
  }

  static async start(group: ProcessGroup, options: PlanesOptions): Promise<Planes> {
    const planes = new Planes(group, options);
    await planes.boot();
    return planes;
  }

  private adminEnv(push: boolean): Record<string, string> {
    return {
      KEYGATE_DB_PATH: this.dbPath,
      KEYGATE_ADMIN_HOST: '127.0.0.1',
      KEYGATE_ADMIN_PORT: String(this.adminPort),
      KEYGATE_MASTER_KEY: this.masterKey,
      KEYGATE_JWT_SECRET: this.jwtSecret,
      KEYGATE_INTERNAL_SECRET: this.internalSecret,
      // "" = push to nobody: only the change-feed pull can repair the gateway (revocation, no push).
      KEYGATE_GATEWAY_URLS: push ? this.gatewayUrl : '',
      KEYGATE_LOG_LEVEL: 'warn',
    };
  }

  private gatewayEnv(): Record<string, string> {
    const cached = this.options.keys + this.options.coldKeys + this.options.revocationKeys + 1000;
    return {
      KEYGATE_GATEWAY_HOST: '127.0.0.1',
      KEYGATE_GATEWAY_PORT: String(this.gatewayPort),
      KEYGATE_ADMIN_URL: this.adminUrl,
      KEYGATE_INTERNAL_SECRET: this.internalSecret,
      KEYGATE_GATEWAY_ID: 'bench-gateway',
      // Room for every key of the run, and a TTL longer than the run, so neither eviction nor the
      // safety-net TTL turns the "cached" scenarios into misses half way (invalidations still apply).
      KEYGATE_CACHE_MAX_KEYS: String(Math.max(100_000, cached)),
      KEYGATE_CACHE_TTL_MS: String(30 * 60_000),
      // No warm start unless a scenario asks for one (preload): many-keys measures misses.
      KEYGATE_PRELOAD_KEYS: '0',
      KEYGATE_LOG_LEVEL: 'warn',
    };
  }

  async startAdmin(push: boolean): Promise<void> {
    const profile = this.options.profileDir;
    this.adminChild = this.group.start('admin', 'admin/main', {
      env: this.adminEnv(push),
      system: true,
      nodeArgs: profile !== undefined ? ['--cpu-prof', '--cpu-prof-dir', join(profile, 'admin')] : [],
    });
    await waitForHttp(`${this.adminUrl}/healthz`, this.adminChild);
  }

  async stopAdmin(): Promise<void> {
    await this.group.stop(this.adminChild);
  }

  /** Restart the admin plane on the same file and port, with pushes on or dropped. */
  async restartAdmin(push: boolean): Promise<void> {
    await this.stopAdmin();
    await this.startAdmin(push);
  }

  async admin<T>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    path: string,
    body?: unknown,
    expected = [200, 201],
  ): Promise<T> {
    const answer = await call(`${this.adminUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.masterKey}` },
      body,
    });
    if (!expected.includes(answer.status)) {
      throw new Error(`admin ${method} ${path}: ${answer.status} ${answer.text.slice(0, 400)}`);
    }
    return answer.text === '' ? (undefined as T) : jsonOf<T>(answer, `admin ${method} ${path}`);
  }

  private async boot(): Promise<void> {
    this.adminPort = await freePort();
    this.gatewayPort = await freePort();
    await this.startAdmin(true);

    await this.admin('POST', '/v1/targets', {
      name: MODEL,
      upstream: { base_url: `${this.options.upstreamUrl}/v1` },
      pricing: { input_per_mtok: 0.15, output_per_mtok: 0.6 },
    });
    const org = await this.admin<{ id: string }>('POST', '/v1/orgs', { name: 'bench' });
    const team = await this.admin<{ id: string }>('POST', '/v1/teams', {
      org_id: org.id,
      name: 'bench-team',
    });
    const owner = await this.admin<{ id: string }>('POST', `/v1/teams/${team.id}/service-accounts`, {
      name: 'bench-load',
    });
    const createKey = async (
      teamId: string,
      name: string,
      limits: Record<string, number> = {},
    ): Promise<string> => {
      const created = await this.admin<{ secret: string }>('POST', '/v1/keys', {
        name,
        team_id: teamId,
        owner: { type: 'service_account', id: owner.id },
        ...limits,
      });
      return created.secret;
    };
    this.hotKey = await createKey(team.id, 'hot');
    this.rateLimitedKey = await createKey(team.id, 'rate-limited', { rpm_limit: 1, rpd_limit: 1 });

    const limitsOrg = await this.admin<{ id: string }>('POST', '/v1/orgs', { name: 'bench-limits', ...HIGH });
    const limitsTeam = await this.admin<{ id: string }>('POST', '/v1/teams', {
      org_id: limitsOrg.id,
      name: 'bench-limits-team',
      ...HIGH,
    });
    const limitsOwner = await this.admin<{ id: string }>(
      'POST',
      `/v1/teams/${limitsTeam.id}/service-accounts`,
      { name: 'bench-limits' },
    );
    const limitsKey = await this.admin<{ secret: string }>('POST', '/v1/keys', {
      name: 'limits-on',
      team_id: limitsTeam.id,
      owner: { type: 'service_account', id: limitsOwner.id },
      ...HIGH,
    });
    this.limitsKey = limitsKey.secret;

    if (this.options.keys + this.options.coldKeys + this.options.revocationKeys > 0)
      await this.seed(team.id, owner.id);
    await this.startGateway();
  }

  private async startGateway(env: Record<string, string> = {}, under?: Wrapper): Promise<void> {
    const profile = this.options.profileDir;
    this.gatewayChild = this.group.start('gateway', 'gateway/main', {
      env: { ...this.gatewayEnv(), ...env },
      system: true,
      wrapper: under?.command,
      // --expose-gc + the bench's GC hook: memory is read after a forced GC (bench/gc-hook.ts).
      nodeArgs: [
        '--expose-gc',
        '--import',
        GC_HOOK,
        ...(profile !== undefined ? ['--cpu-prof', '--cpu-prof-dir', join(profile, 'gateway')] : []),
      ],
    });
    await waitForHttp(`${this.gatewayUrl}/healthz`, this.gatewayChild, under?.startTimeoutMs);
  }

  /**
   * A fresh gateway process on the same port (its caches and counters empty): the memory and
   * many-keys scenarios measure a gateway that only ever held their keys, not the heap that the
   * earlier load scenarios grew (V8 keeps what it once needed).
   */
  async restartGateway(env: Record<string, string> = {}, under?: Wrapper): Promise<void> {
    await this.group.stop(this.gatewayChild, under === undefined ? undefined : 60_000);
    await this.startGateway(env, under);
  }

  /** Stop the admin plane (the single writer), write the seeded keys, start it again. */
  private async seed(teamId: string, ownerId: string): Promise<void> {
    const { log } = this.options;
    await this.stopAdmin();
    const started = Date.now();
    const seed = (count: number, prefix: string, lastUsed = false): SeededKey[] =>
      seedKeys({
        lastUsed,
        dbPath: this.dbPath,
        teamId,
        serviceAccountId: ownerId,
        count,
        namePrefix: prefix,
        limits: SEEDED_LIMITS,
      });
    // Warm keys carry a last use (one ms apart), so the preload scenario finds them most recent first.
    this.warmKeys = seed(this.options.keys, 'warm', true);
    this.coldKeys = seed(this.options.coldKeys, 'cold');
    this.revocationKeys = seed(this.options.revocationKeys, 'revoke');
    log(
      `seeded ${this.warmKeys.length + this.coldKeys.length + this.revocationKeys.length} keys into SQLite in ${Date.now() - started} ms`,
    );

    await this.startAdmin(true);
  }

  async stop(): Promise<void> {
    await Promise.all([this.group.stop(this.gatewayChild), this.group.stop(this.adminChild)]);
  }
}
