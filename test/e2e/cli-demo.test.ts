/**
 * `keygate demo` prints a curl line that works as printed: the demo key, the gateway URL and the
 * demo model reach the local mock upstream through the gateway.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, freePort } from '../helpers/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'keygate-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('keygate demo', () => {
  it('prints a curl line that answers 200 with a completion when run as printed', async () => {
    let output = '';
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/keygate.ts', 'demo'], {
      cwd: ROOT,
      env: {
        ...process.env,
        KEYGATE_LOG_LEVEL: 'warn',
        KEYGATE_DB_PATH: join(dir, 'demo.db'),
        KEYGATE_ADMIN_PORT: String(await freePort()),
        KEYGATE_GATEWAY_PORT: String(await freePort()),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 45_000;
      while (!output.includes("-d '{") && Date.now() < deadline && child.exitCode === null) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const start = output.indexOf('  curl ');
      expect(start, output).toBeGreaterThanOrEqual(0);
      const curlLine = output
        .slice(start)
        .split('\n')
        .slice(0, 3)
        .map((line) => line.replace(/\\$/, '').trim())
        .join(' ');
      const { stdout } = await promisify(execFile)('sh', ['-c', `${curlLine} -w '\\n%{http_code}'`]);
      const lines = stdout.trim().split('\n');
      expect(lines.at(-1)).toBe('200');
      const body = JSON.parse(lines.slice(0, -1).join('\n'));
      expect(body.object).toBe('chat.completion');
      expect(body.choices[0].message.content.length).toBeGreaterThan(0);
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  }, 90_000);
});
