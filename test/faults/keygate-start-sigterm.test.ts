/**
 * Issue 13, fault 1: SIGTERM to `keygate start` (what the Docker image runs) stops the gateway
 * first and the admin plane only after the gateway's last usage flush. Figure: requests served
 * vs recorded (issue: 56 served, 0 recorded).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { entryArgs, ROOT, freePort, waitForHttp } from '../helpers/processes.js';
import { createFaultUpstream } from './fault-upstream.js';

const dir = mkdtempSync(join(tmpdir(), 'keygate-start-term-'));
const upstream = createFaultUpstream();
afterAll(() => {
  upstream.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('keygate start under SIGTERM', () => {
  it('56 of 56 served requests are recorded: the admin plane outlives the gateway’s last flush', async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const [adminPort, gatewayPort] = [await freePort(), await freePort()];
    const masterKey = 'start-term-master-key-0123456789';
    const dbPath = join(dir, 'keygate.db');
    const child = spawn(process.execPath, [...entryArgs('bin/keygate.ts'), 'start'], {
      cwd: ROOT,
      env: {
        ...process.env,
        KEYGATE_LOG_LEVEL: 'warn',
        KEYGATE_DB_PATH: dbPath,
        KEYGATE_SPOOL_DIR: join(dir, 'spool'),
        KEYGATE_MASTER_KEY: masterKey,
        KEYGATE_ADMIN_PORT: String(adminPort),
        KEYGATE_GATEWAY_PORT: String(gatewayPort),
        KEYGATE_USAGE_FLUSH_MS: '60000', // nothing is flushed before the stop
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const admin = `http://127.0.0.1:${adminPort}`;
    const gateway = `http://127.0.0.1:${gatewayPort}`;
    await waitForHttp(`${gateway}/healthz`, 30_000);
    const api = async (path: string, body: unknown) => {
      const response = await fetch(`${admin}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${masterKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return (await response.json()) as any;
    };
    const org = await api('/v1/orgs', { name: 'term-org' });
    const team = await api('/v1/teams', { org_id: org.id, name: 'term-team' });
    await api('/v1/targets', {
      name: 'small',
      upstream: { base_url: `${upstreamUrl}/v1` },
      pricing: { input_per_mtok: 1, output_per_mtok: 2 },
    });
    const key = await api('/v1/keys', {
      name: 'term-key',
      team_id: team.id,
      owner: { type: 'service_account', create: { name: 'term-svc' } },
    });
    let served = 0;
    for (let i = 0; i < 56; i++) {
      const response = await fetch(`${gateway}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key.secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }),
      });
      await response.arrayBuffer();
      if (response.status === 200) served++;
    }
    child.kill('SIGTERM');
    expect(await exited, output).toBe(0);
    const db = new Database(dbPath, { readonly: true });
    const recorded = (
      db.prepare('SELECT IFNULL(SUM(requests), 0) AS n FROM usage_hourly').get() as { n: number }
    ).n;
    db.close();
    console.log(`[figure] keygate start SIGTERM: served ${served}, recorded ${recorded}`);
    expect(recorded, `served ${served}, recorded ${recorded}`).toBe(served);
    expect(served).toBe(56);
  });
});
