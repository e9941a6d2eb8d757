/**
 * The README's five-minute walkthrough works as written: its shell blocks are run with bash
 * against a real `keygate start` and the mock upstream (ports replaced by free ones).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.js';
import { ROOT, freePort, waitForHttp } from '../helpers/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'keygate-readme-'));
const cleanups: (() => Promise<unknown> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function walkthroughBlocks(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Five-minute walkthrough');
  const end = readme.indexOf('### With the official');
  return [...readme.slice(start, end).matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

describe('README walkthrough', () => {
  it('creates org, team, target and key, calls the gateway, and revokes the key, as written', async () => {
    const blocks = walkthroughBlocks();
    expect(blocks.length).toBe(5);
    expect(blocks[0]).toContain('npm ci && npm start');
    expect(blocks[1]).toContain('bench/mock-upstream.ts --port 4300');

    const adminPort = await freePort();
    const gatewayPort = await freePort();
    const upstream = await startMockUpstream({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => upstream.close());
    let output = '';
    const keygate = spawn(process.execPath, ['--import', 'tsx', 'bin/keygate.ts', 'start'], {
      cwd: ROOT,
      env: {
        ...process.env,
        KEYGATE_LOG_LEVEL: 'warn',
        KEYGATE_DB_PATH: join(dir, 'keygate.db'),
        KEYGATE_ADMIN_PORT: String(adminPort),
        KEYGATE_GATEWAY_PORT: String(gatewayPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    keygate.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    keygate.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise((resolve) => keygate.once('exit', resolve));
    cleanups.push(async () => {
      keygate.kill('SIGTERM');
      await exited;
    });
    await waitForHttp(`http://127.0.0.1:${gatewayPort}/healthz`, 30_000);
    const masterKey = /master key \(shown once, store it now\): (\S+)/.exec(output)?.[1];
    expect(masterKey, output).toBeDefined();

    const upstreamPort = new URL(upstream.url).port;
    const script = [
      'set -euo pipefail',
      `export MK=${masterKey}`,
      `export ADMIN=http://127.0.0.1:${adminPort} GW=http://127.0.0.1:${gatewayPort}`,
      blocks[2]!.replaceAll('127.0.0.1:4300', `127.0.0.1:${upstreamPort}`),
      'echo "@@call"',
      blocks[3]!,
      'echo',
      'echo "@@revoke"',
      blocks[4]!,
    ].join('\n');
    const { stdout } = await promisify(execFile)('bash', ['-c', script], { cwd: ROOT });
    const [created, called, revoked] = stdout.split(/@@call|@@revoke/);
    expect(created).toMatch(/kg_[0-9A-Za-z]{46}/);
    expect(called).toContain('"object":"chat.completion"');
    expect(called).toContain('"id":"gpt-4o-mini"');
    expect(revoked).toContain('"status":"revoked"');
    expect(revoked).toContain('"code":"key_revoked"');
  }, 90_000);
});
