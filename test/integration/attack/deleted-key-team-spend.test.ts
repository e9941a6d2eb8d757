/**
 * A key deleted while its requests are in flight (or before the gateway's next usage flush): the
 * gateway charged their cost to the key's team and org when it admitted them, but the admin plane
 * skipped the usage items of keys it no longer has, team and org spend included ("their team and
 * org are no longer known"). Once the team was loaded again, the gateway rebased on the persisted
 * team spend and forgot its own charge: the spend vanished from the team's and org's budgets and
 * from the usage reports. Seen: a team with a $0.05 budget spent $0.044 through a key deleted
 * mid-request, then admitted another $0.044 through a new key ($0.088 in all).
 *
 * A self-service developer can delete their own keys, so this was a way around the team budget.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type RunningAdmin } from '../../../admin/main.js';
import { startMockUpstream, type MockUpstream } from '../../../bench/mock-upstream.js';
import { startGateway } from '../../../gateway/main.js';
import { loadConfig } from '../../../src/config/config.js';
import { eventually } from '../../helpers/eventually.js';

const SECRET = 'deleted-key-spend-internal-secret-0123456789';
const MASTER = 'deleted-key-spend-master-key-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'keygate-delspend-'));
const logger = pino({ level: 'silent' });

let admin: RunningAdmin;
let mock: MockUpstream;
let gateway: Awaited<ReturnType<typeof startGateway>> | undefined;
beforeAll(async () => {
  mock = await startMockUpstream();
  admin = await startAdmin(
    loadConfig({
      KEYGATE_DB_PATH: join(dir, 'keygate.db'),
      KEYGATE_ADMIN_PORT: '0',
      KEYGATE_MASTER_KEY: MASTER,
      KEYGATE_INTERNAL_SECRET: SECRET,
      KEYGATE_GATEWAY_URLS: '',
      KEYGATE_LOG_LEVEL: 'silent',
    }),
    { logger },
  );
});
afterAll(async () => {
  await gateway?.close();
  await admin.close();
  await mock.close();
  rmSync(dir, { recursive: true, force: true });
});

async function api(method: string, path: string, body?: unknown): Promise<Record<string, any>> {
  const res = await fetch(`${admin.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  expect(res.status).toBeLessThan(300);
  return res.status === 204 ? {} : ((await res.json()) as Record<string, any>);
}

/** "Hello there" is 3 input tokens, the mock answers 8 output tokens: 11,000 µUSD at $1,000/Mtok. */
const chat = (key: string, model: string) =>
  fetch(`${gateway!.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 5 }),
  });

describe('a key deleted with usage not yet reported', () => {
  it("its spend stays in its team's and org's spend, budgets and usage", async () => {
    const org = await api('POST', '/v1/orgs', { name: 'o' });
    const team = await api('POST', '/v1/teams', { org_id: org.id, name: 't', max_budget: 0.05 });
    const pricing = { input_per_mtok: 1000, output_per_mtok: 1000 };
    await api('POST', '/v1/targets', {
      name: 'mock-slow-1500',
      upstream: { base_url: `${mock.url}/v1` },
      pricing,
    });
    await api('POST', '/v1/targets', { name: 'fast', upstream: { base_url: `${mock.url}/v1` }, pricing });
    const newKey = async (name: string) =>
      api('POST', '/v1/keys', {
        name,
        team_id: team.id,
        owner: { type: 'service_account', create: { name } },
      });
    const doomed = await newKey('doomed');

    gateway = await startGateway(
      loadConfig({
        KEYGATE_GATEWAY_PORT: '0',
        KEYGATE_ADMIN_URL: admin.url,
        KEYGATE_INTERNAL_SECRET: SECRET,
        KEYGATE_USAGE_FLUSH_MS: '20',
        KEYGATE_SPOOL_DIR: join(dir, 'spool'),
        KEYGATE_LOG_LEVEL: 'silent',
      }),
      { logger },
    );

    // Four slow requests in flight (8,000 µUSD reserved each: 32,000 ≤ 50,000), then the delete.
    const inFlight = [0, 1, 2, 3].map(() => chat(doomed.secret as string, 'mock-slow-1500'));
    const before = mock.stats().requests;
    await eventually(() => mock.stats().requests - before === 4, { what: 'the four requests upstream' });
    await api('DELETE', `/v1/keys/${doomed.key.id}`);
    const statuses = await Promise.all(inFlight.map(async (p) => (await p).status));
    expect(statuses).toEqual([200, 200, 200, 200]);

    // 44,000 µUSD spent: the team's $0.05 has 6,000 left, below one request's 8,000 estimate.
    await eventually(async () => (await api('GET', `/v1/teams/${team.id}`)).spend === 0.044, {
      timeoutMs: 3000,
      what: 'the team spend persisted',
    });
    expect((await api('GET', `/v1/orgs/${org.id}`)).spend).toBe(0.044);
    const usage = await api('GET', `/v1/usage?team_id=${team.id}`);
    expect(usage.totals).toMatchObject({ requests: 4, spend: 0.044 });

    const next = await newKey('next');
    const res = await chat(next.secret as string, 'fast');
    expect(res.status).toBe(429);
    expect(((await res.json()) as any).error).toMatchObject({
      code: 'budget_exceeded',
      param: 'team_budget',
    });
  });
});
