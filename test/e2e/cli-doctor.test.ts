/**
 * `keygate doctor` (issue 13, item 15): prints the effective configuration with secrets masked,
 * checks the database (integrity, WAL, permissions) and that the admin plane, the gateway, Redis
 * and each target's upstream answer; exit 0 on a healthy setup, 1 with the problem named when an
 * upstream is down, a credential variable is missing, or nothing is running.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.js';
import { entryArgs, ROOT, freePort, startCli, type CliPorts } from '../helpers/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'keygate-doctor-'));
const MASTER_KEY = 'kgm_doctor_test_master_key_0123456789';
const cleanups: (() => unknown)[] = [];
let env: Record<string, string>;

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function doctor(extra: Record<string, string> = {}): Promise<{ code: number; output: string }> {
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [...entryArgs('bin/keygate.ts'), 'doctor'],
      { cwd: ROOT, env: { ...process.env, ...env, ...extra } },
    );
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: failed.stdout + failed.stderr };
  }
}

beforeAll(async () => {
  const upstream = await startMockUpstream({ port: 0, host: '127.0.0.1' });
  cleanups.push(() => upstream.close());
  const configure = ({ adminPort, gatewayPort }: CliPorts) =>
    (env = {
      KEYGATE_DB_PATH: join(dir, 'keygate.db'),
      KEYGATE_ADMIN_PORT: String(adminPort),
      KEYGATE_GATEWAY_PORT: String(gatewayPort),
      KEYGATE_ADMIN_URL: `http://127.0.0.1:${adminPort}`,
      KEYGATE_MASTER_KEY: MASTER_KEY,
      KEYGATE_LOG_LEVEL: 'warn',
      KEYGATE_PROVIDER_KEY_UPSTREAM: 'sk-upstream',
    });
  const keygate = await startCli('start', configure);
  cleanups.push(async () => {
    keygate.child.kill('SIGTERM');
    await keygate.exited;
  });
  chmodSync(env.KEYGATE_DB_PATH!, 0o600);
  const response = await fetch(`${env.KEYGATE_ADMIN_URL}/v1/targets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'mock',
      upstream: { base_url: `${upstream.url}/v1`, api_key_env: 'KEYGATE_PROVIDER_KEY_UPSTREAM' },
      pricing: { input_per_mtok: 1, output_per_mtok: 1 },
    }),
  });
  expect(response.status).toBe(201);
}, 120_000);

describe('keygate doctor', () => {
  it('exits 0 on a healthy setup, with the configuration shown and secrets masked', async () => {
    const { code, output } = await doctor();
    expect(output).toContain('no problems');
    expect(code).toBe(0);
    expect(output).toMatch(/KEYGATE_MASTER_KEY +kgm_… \(37 characters, masked\)/);
    expect(output).not.toContain(MASTER_KEY);
    expect(output).toMatch(/KEYGATE_CACHE_TTL_MS +60000 +\[default\]/);
    expect(output).toContain('ok   database integrity_check: ok');
    expect(output).toContain('ok   database journal_mode: wal');
    expect(output).toContain('ok   database permissions 600');
    expect(output).toMatch(/ok {3}admin plane http:\/\/127\.0\.0\.1:\d+\/healthz reachable/);
    expect(output).toMatch(/ok {3}target mock: upstream http:\/\/127\.0\.0\.1:\d+\/v1 reachable/);
    expect(output).toContain('ok   target mock: KEYGATE_PROVIDER_KEY_UPSTREAM is set');
  }, 30_000);

  it('exits 1 naming each problem: a missing credential, an unreachable admin plane and Redis', async () => {
    const deadPort = String(await freePort());
    const { code, output } = await doctor({
      KEYGATE_PROVIDER_KEY_UPSTREAM: '',
      KEYGATE_ADMIN_URL: `http://127.0.0.1:${deadPort}`,
      REDIS_URL: `redis://:hunter2secret@127.0.0.1:${deadPort}`,
    });
    expect(code).toBe(1);
    expect(output).toContain('fail target mock: KEYGATE_PROVIDER_KEY_UPSTREAM is not set');
    expect(output).toMatch(
      /fail admin plane http:\/\/127\.0\.0\.1:\d+\/healthz not reachable \(ECONNREFUSED\)/,
    );
    expect(output).toMatch(/fail Redis redis:\/\/:\*\*\*\*@127\.0\.0\.1:\d+ not reachable/);
    expect(output).not.toContain('hunter2secret');
    expect(output).toContain('3 problem(s)');
  }, 30_000);

  it('exits 1 on a corrupt database file', async () => {
    const corrupt = join(dir, 'corrupt.db');
    await promisify(execFile)('sh', ['-c', `head -c 8192 /dev/urandom > ${corrupt}`]);
    const { code, output } = await doctor({ KEYGATE_DB_PATH: corrupt });
    expect(code).toBe(1);
    expect(output).toMatch(/fail database (cannot be read|integrity_check)/);
  }, 30_000);
});
