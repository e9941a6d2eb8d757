/**
 * Attack finding (operator trap): `keygate doctor` checked the admin plane at KEYGATE_ADMIN_URL's
 * default (http://127.0.0.1:4100) even when KEYGATE_ADMIN_PORT was changed and KEYGATE_ADMIN_URL
 * left unset, the setup `keygate start` serves on that port: a running admin was reported
 * "not reachable" and doctor exited 1. Like `keygate start`, doctor now derives the local admin
 * URL from KEYGATE_ADMIN_HOST/PORT unless KEYGATE_ADMIN_URL is set.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDoctor } from '../../../bin/doctor.js';
import { loadConfig } from '../../../src/config/config.js';

let server: Server;
let port: number;
const dir = mkdtempSync(join(tmpdir(), 'keygate-doctor-url-'));

beforeAll(async () => {
  server = createServer((_req, res) => res.end('{"status":"ok"}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

async function adminLine(env: Record<string, string>): Promise<string> {
  const lines: string[] = [];
  await runDoctor(loadConfig(env), env, (line) => lines.push(line));
  return lines.find((line) => line.includes('admin plane')) ?? '';
}

describe('keygate doctor finds the admin plane where keygate start puts it', () => {
  it('KEYGATE_ADMIN_PORT without KEYGATE_ADMIN_URL → checks that port', async () => {
    const env = { KEYGATE_DB_PATH: join(dir, 'a.db'), KEYGATE_ADMIN_PORT: String(port) };
    expect(await adminLine(env)).toMatch(
      new RegExp(`ok +admin plane http://127\\.0\\.0\\.1:${port}/healthz`),
    );
  });

  it('an explicit KEYGATE_ADMIN_URL still wins', async () => {
    const env = {
      KEYGATE_DB_PATH: join(dir, 'b.db'),
      KEYGATE_ADMIN_PORT: '1',
      KEYGATE_ADMIN_URL: `http://127.0.0.1:${port}`,
    };
    expect(await adminLine(env)).toMatch(/^ +ok +admin plane/);
  });
});
