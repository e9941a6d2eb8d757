/**
 * A gateway restarted under the same KEYGATE_GATEWAY_ID (a StatefulSet pod name, a systemd unit)
 * in memory mode: its budget view must count each of its usage batches once. The admin plane
 * tells a loading gateway the highest batch_seq of its id already in the persisted spend, and
 * the gateway drops its own batches up to that seq from its local view; a new process that
 * numbered its batches from 1 again had them all "below" its predecessor's, so each applied
 * batch was counted twice (persisted and local) and the key was refused at about half its budget.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAdmin, type RunningAdmin } from '../../../admin/main.js';
import { startMockUpstream, type MockUpstream } from '../../../bench/mock-upstream.js';
import { startGateway } from '../../../gateway/main.js';
import { ManualClock } from '../../../src/clock.js';
import { loadConfig } from '../../../src/config/config.js';

const SECRET = 'gateway-id-restart-internal-secret-0123456789';
const MASTER = 'gateway-id-restart-master-key-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'keygate-gwid-'));
const logger = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let admin: RunningAdmin;
let mock: MockUpstream;
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
  await admin.close();
  await mock.close();
  rmSync(dir, { recursive: true, force: true });
});

async function create(path: string, body: unknown): Promise<Record<string, any>> {
  const res = await fetch(`${admin.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as Record<string, any>;
}

const newKey = async (team: string, name: string, maxBudget: number): Promise<string> =>
  (
    await create('/v1/keys', {
      name,
      team_id: team,
      owner: { type: 'service_account', create: { name } },
      max_budget: maxBudget,
    })
  ).secret as string;

/** The gateway process as `keygate gateway` starts it, with a fixed id; the clock moves its cache TTL. */
const gateway = (clock: ManualClock) =>
  startGateway(
    loadConfig({
      KEYGATE_GATEWAY_PORT: '0',
      KEYGATE_ADMIN_URL: admin.url,
      KEYGATE_INTERNAL_SECRET: SECRET,
      KEYGATE_GATEWAY_ID: 'gw-fixed',
      KEYGATE_USAGE_FLUSH_MS: '20',
      KEYGATE_CACHE_TTL_MS: '1000',
      KEYGATE_SPOOL_DIR: join(dir, 'spool'),
      KEYGATE_LOG_LEVEL: 'silent',
    }),
    { logger, clock },
  );

/** One chat call: "Hello there" is 3 input tokens, the mock answers 8 output tokens. */
const chat = (url: string, key: string) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 5 }),
  });

describe('a gateway restarted with the same KEYGATE_GATEWAY_ID', () => {
  it('counts its spend once: a key is refused only when its budget is really used up', async () => {
    const org = await create('/v1/orgs', { name: 'o' });
    const team = await create('/v1/teams', { org_id: org.id, name: 't' });
    // 1,000 USD per million tokens: 1,000 µUSD a token, 11,000 a call, 8,000 reserved for one.
    await create('/v1/targets', {
      name: 'm',
      upstream: { base_url: `${mock.url}/v1` },
      pricing: { input_per_mtok: 1000, output_per_mtok: 1000 },
    });
    const busy = await newKey(team.id as string, 'busy', 1000);
    const capped = await newKey(team.id as string, 'capped', 0.2);
    const clock = new ManualClock(Date.now());

    // The first process sends 25 usage batches, then stops.
    const first = await gateway(clock);
    for (let i = 0; i < 25; i++) {
      expect((await chat(first.url, busy)).status).toBe(200);
      await sleep(60);
    }
    await first.close();
    clock.advance(60_000); // the restart

    // The next one, same id: $0.20 admits 18 calls (17 × 11,000 + 8,000 ≤ 200,000), then refuses.
    const second = await gateway(clock);
    try {
      let admitted = 0;
      for (let i = 0; i < 25; i++) {
        const res = await chat(second.url, capped);
        await res.arrayBuffer();
        if (res.status !== 200) break;
        admitted++;
        await sleep(60); // the call's batch is applied...
        clock.advance(1500); // ...and the key reloaded (TTL) with the persisted spend
      }
      expect(admitted).toBe(18);
    } finally {
      await second.close();
    }
  });
});
