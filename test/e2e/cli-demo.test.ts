/**
 * `keygate demo` prints a curl line that works as printed (the demo key, the gateway URL and the
 * demo model reach the local mock upstream through the gateway), and it never touches the
 * database at KEYGATE_DB_PATH: a user's existing database is byte-for-byte unchanged after a demo
 * run (before: the demo deleted it), the demo's own temporary directory is gone after it stops.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/storage/database.js';
import { entryArgs, ROOT, freePort } from '../helpers/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'keygate-demo-test-'));
const userDb = join(dir, 'keygate.db');
let before: Record<string, string | null>;
let output = '';
let exited: Promise<number | null>;
let child: ReturnType<typeof spawn>;

/** sha256 of the database and its -wal / -shm files (null = absent). */
function fingerprint(): Record<string, string | null> {
  return Object.fromEntries(
    ['', '-wal', '-shm'].map((suffix) => {
      const path = `${userDb}${suffix}`;
      return [
        suffix || 'db',
        existsSync(path) ? createHash('sha256').update(readFileSync(path)).digest('hex') : null,
      ];
    }),
  );
}

beforeAll(async () => {
  // A user's database with data in it, at the path the demo is pointed at.
  const db = openDatabase(userDb);
  db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('users-own-row', 'keep me');
  db.close();
  before = fingerprint();
  expect(before.db).not.toBeNull();
  child = spawn(process.execPath, [...entryArgs('bin/keygate.ts'), 'demo'], {
    cwd: ROOT,
    env: {
      ...process.env,
      KEYGATE_LOG_LEVEL: 'warn',
      KEYGATE_DB_PATH: userDb,
      KEYGATE_ADMIN_PORT: String(await freePort()),
      KEYGATE_GATEWAY_PORT: String(await freePort()),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 45_000;
  while (!output.includes("-d '{") && Date.now() < deadline && child.exitCode === null) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}, 120_000);

afterAll(() => {
  child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('keygate demo', () => {
  it('prints a curl line that answers 200 with a completion when run as printed', async () => {
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
  }, 30_000);

  it('leaves the database at KEYGATE_DB_PATH byte-for-byte unchanged and removes its own on exit', async () => {
    const demoDb = /database +(\S+) \(temporary/.exec(output)?.[1];
    expect(demoDb, output).toBeDefined();
    expect(demoDb).not.toBe(userDb);
    expect(existsSync(demoDb!)).toBe(true);
    expect(fingerprint()).toEqual(before);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(fingerprint()).toEqual(before);
    expect(existsSync(dirname(demoDb!))).toBe(false);
    const db = openDatabase(userDb);
    try {
      expect(db.prepare("SELECT value FROM meta WHERE key = 'users-own-row'").get()).toEqual({
        value: 'keep me',
      });
    } finally {
      db.close();
    }
  }, 30_000);
});
