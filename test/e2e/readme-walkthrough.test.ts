/**
 * The README's five-minute walkthrough works as written: its shell blocks are run in order with
 * bash against a real `keygate start` and the mock upstream, on free ports set through the same
 * variables the README uses (KEYGATE_ADMIN_PORT, KEYGATE_GATEWAY_PORT, MOCK_PORT). Only the master
 * key placeholder is replaced, and the placeholder itself must fail loudly. The blocks run twice
 * (no 409 on the second run), the openai snippet included; the README's word on an old secret
 * after a regenerate grace period is what the gateway answers.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.js';
import { ROOT, startCli } from '../helpers/processes.js';
import { childEnv } from '../helpers/child-env.js';

const dir = mkdtempSync(join(tmpdir(), 'keygate-readme-'));
// The openai snippet writes its .mjs into the working directory and imports `openai`: a directory
// under this checkout's node_modules resolves it without leaving a file in the checkout.
mkdirSync(join(ROOT, 'node_modules', '.cache'), { recursive: true });
const workDir = mkdtempSync(join(ROOT, 'node_modules', '.cache', 'readme-walkthrough-'));
const cleanups: (() => Promise<unknown> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
});

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

function walkthroughBlocks(): string[] {
  const start = readme.indexOf('## Five-minute walkthrough');
  const end = readme.indexOf('\n## ', start + 1); // the walkthrough ends at the next section
  return [...readme.slice(start, end).matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

const blocks = walkthroughBlocks();
let env: Record<string, string>;
let masterKey: string;
let gatewayUrl: string;
let adminUrl: string;

async function bash(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('bash', ['-c', `set -euo pipefail\n${script}`], {
      cwd: workDir,
      env: childEnv(env),
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

beforeAll(async () => {
  const upstream = await startMockUpstream({ port: 0, host: '127.0.0.1' });
  cleanups.push(() => upstream.close());
  const keygate = await startCli('start', ({ adminPort, gatewayPort }) => {
    env = {
      KEYGATE_ADMIN_PORT: String(adminPort),
      KEYGATE_GATEWAY_PORT: String(gatewayPort),
      MOCK_PORT: new URL(upstream.url).port,
    };
    adminUrl = `http://127.0.0.1:${adminPort}`;
    gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    return { ...env, KEYGATE_DB_PATH: join(dir, 'keygate.db') };
  });
  cleanups.push(async () => {
    keygate.child.kill('SIGTERM');
    await keygate.exited;
  });
  const output = keygate.output();
  masterKey = /master key \(shown once, store it now\): (\S+)/.exec(output)?.[1] ?? '';
  expect(masterKey, output).not.toBe('');
}, 120_000);

describe('README walkthrough', () => {
  it('has the blocks in the order the test runs them', () => {
    expect(blocks.length).toBe(7);
    expect(blocks[0]).toContain('npm ci && npm start');
    expect(blocks[1]).toContain('bench/mock-upstream.ts --port ${MOCK_PORT:-4300}');
    expect(blocks[2]).toContain('export MK=kgm_...');
    expect(blocks[5]).toContain("import OpenAI from 'openai'");
    expect(blocks[6]).toContain('/revoke');
  });

  it('the master key placeholder, pasted literally, fails loudly with a 401', async () => {
    const result = await bash(blocks[2]!);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('401');
    expect(result.stdout).not.toContain('master key OK');
  });

  it('runs every block as written, twice in a row, the openai snippet included', async () => {
    const withKey = blocks[2]!.replace('export MK=kgm_...', `export MK=${masterKey}`);
    expect(withKey).not.toBe(blocks[2]);
    for (const round of [1, 2]) {
      const script = [
        withKey,
        blocks[3]!,
        'echo "@@call"',
        blocks[4]!,
        'echo "@@openai"',
        blocks[5]!,
        'echo "@@revoke"',
        blocks[6]!,
      ].join('\n');
      const { code, stdout, stderr } = await bash(script);
      expect(code, `round ${round}: ${stderr}`).toBe(0);
      const [created, called, openai, revoked] = stdout.split(/@@call|@@openai|@@revoke/);
      expect(created).toContain('master key OK');
      expect(created).toMatch(/kg_[0-9A-Za-z]{46}/);
      expect(called).toContain('"object":"chat.completion"');
      expect(called).toContain('"id":"gpt-4o-mini"');
      expect(openai!.trim().length, `openai snippet printed nothing: ${stderr}`).toBeGreaterThan(0);
      expect(revoked).toContain('"status":"revoked"');
      expect(revoked).toContain('"code":"key_revoked"');
    }
  }, 90_000);

  it('an old secret after its regenerate grace period gets the code the README names', async () => {
    const promised = /after that it is unknown to keygate: 401 `(\w+)`/.exec(readme)?.[1];
    expect(promised).toBeDefined();
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${adminUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${masterKey}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return (await response.json()) as any;
    };
    const org = await call('POST', '/v1/orgs', { name: `grace-${Date.now()}` });
    const team = await call('POST', '/v1/teams', { org_id: org.id, name: 'grace' });
    const key = await call('POST', '/v1/keys', {
      name: 'grace',
      team_id: team.id,
      owner: { type: 'service_account', create: { name: `grace-${Date.now()}` } },
    });
    const models = (secret: string) =>
      fetch(`${gatewayUrl}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
    expect((await models(key.secret)).status).toBe(200); // cached by the gateway
    const regenerated = await call('POST', `/v1/keys/${key.key.id}/regenerate`, { grace_period_seconds: 1 });
    expect(regenerated.secret).toMatch(/^kg_/);
    expect((await models(key.secret)).status).toBe(200); // inside the grace period
    await new Promise((resolve) => setTimeout(resolve, 1300));
    for (let i = 0; i < 3; i++) {
      const refused = await models(key.secret);
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as any).error.code).toBe(promised);
    }
  }, 30_000);
});
