/**
 * `keygate start` as a user runs it: two child processes, a generated master key printed once,
 * both planes answering, and a graceful stop of both on SIGTERM.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, startCli, waitForHttp, type CliPorts } from '../helpers/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'keygate-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('keygate start', () => {
  it('runs both planes, prints the generated master key once, and stops both on SIGTERM', async () => {
    const env = ({ adminPort, gatewayPort }: CliPorts) => ({
      KEYGATE_DB_PATH: join(dir, 'keygate.db'),
      KEYGATE_ADMIN_PORT: String(adminPort),
      KEYGATE_GATEWAY_PORT: String(gatewayPort),
    });
    const first = await startCli('start', env);
    const { adminPort, gatewayPort } = first;
    await waitForHttp(`http://127.0.0.1:${adminPort}/healthz`, 60_000);
    const masterKey = /master key \(shown once, store it now\): (\S+)/.exec(first.output())?.[1];
    expect(masterKey).toBeDefined();
    const orgs = await fetch(`http://127.0.0.1:${adminPort}/v1/orgs`, {
      headers: { authorization: `Bearer ${masterKey}` },
    });
    expect(orgs.status).toBe(200);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    await expect(fetch(`http://127.0.0.1:${gatewayPort}/healthz`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${adminPort}/healthz`)).rejects.toThrow();

    // Second start on the same database (new ports): the key is not printed again and still works.
    const second = await startCli('start', env);
    expect(second.output()).not.toContain('master key (shown once');
    const again = await fetch(`http://127.0.0.1:${second.adminPort}/v1/orgs`, {
      headers: { authorization: `Bearer ${masterKey}` },
    });
    expect(again.status).toBe(200);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  }, 150_000);

  it('refuses an invalid configuration with one message listing every problem', async () => {
    const run = runCli('start', {
      KEYGATE_ADMIN_PORT: 'x',
      KEYGATE_LOG_LEVEL: 'loud',
      KEYGATE_DB_PATH: join(dir, 'bad.db'),
    });
    expect(await run.exited).toBe(2);
    expect(run.output()).toContain('KEYGATE_ADMIN_PORT');
    expect(run.output()).toContain('KEYGATE_LOG_LEVEL');
  });
});
