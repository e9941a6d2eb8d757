/**
 * An admin plane restored from a backup, with a gateway that kept running (embedded mode, the
 * in-memory spend view). The gateway orders spend loads by the change log's head (`version`) and
 * the usage batch they include; the restored database numbers both from the backup's, lower
 * values, so the gateway ignored every load of the restored store until the numbering caught up:
 * it kept deciding on the spend it held before the restore. Seen: a key whose restored spend is
 * $0 of a $5 budget stayed refused with `budget_exceeded` after the restore, although its cached
 * policy was dropped and reloaded (admin-restore-feed.test.ts). The gateway must decide on the
 * restored store's spend once it notices the log went back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/eventually.js';
import { RestoreStack } from './restore-stack.js';

let s: RestoreStack;
const call = (method: string, path: string, body?: unknown) => s.call(method, path, body);

beforeAll(async () => {
  s = await RestoreStack.start('keygate-restore-spend-');
});
afterAll(() => s.close());

const chat = (key: string) =>
  fetch(`http://127.0.0.1:${s.gatewayPort}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'm',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'x'.repeat(400) }],
    }),
  });

describe('an admin plane restored from a backup, and the gateway spend view', () => {
  it('after the restore the gateway decides on the restored spend, not on the spend it held before', async () => {
    const org = await call('POST', '/v1/orgs', { name: 'o' });
    const team = await call('POST', '/v1/teams', { org_id: org.id, name: 't' });
    await call('POST', '/v1/targets', {
      name: 'm',
      upstream: { base_url: `${s.mock.url}/v1` },
      // $0.01 a token: one request of ~100 prompt tokens costs about $1.
      pricing: { input_per_mtok: 10_000, output_per_mtok: 10_000 },
    });
    const created = await call('POST', '/v1/keys', {
      name: 'k',
      team_id: team.id,
      max_budget: 5,
      owner: { type: 'service_account', create: { name: 'svc' } },
    });
    const secret = created.secret as string;
    const keyId = created.key.id as string;

    // The backup: the key has spent nothing yet.
    await s.backUp();
    await s.startGateway({ KEYGATE_USAGE_FLUSH_MS: '50' });

    // Life goes on: the key spends its budget (reported to the admin), then 20 changes follow.
    let refused = false;
    for (let i = 0; i < 20 && !refused; i++) {
      const res = await chat(secret);
      await res.arrayBuffer();
      refused = res.status === 429;
    }
    expect(refused).toBe(true);
    await eventually(async () => (await call('GET', `/v1/keys/${keyId}`)).spend >= 3, {
      what: 'the spend reported to the admin plane',
    });
    for (let i = 0; i < 20; i++) await call('PATCH', `/v1/teams/${team.id}`, { rpm_limit: 1000 + i });
    await eventually(
      async () => ((await (await fetch(`${s.gateway!.url}/readyz`)).json()) as any).changeFeed.lastSeq >= 20,
      { what: 'the gateway following the log' },
    );
    expect((await chat(secret)).status).toBe(429);

    // The admin plane's disk is lost; the backup (spend $0) is restored.
    await s.putBackupInPlace();
    await s.startAdmin();
    expect((await call('GET', `/v1/keys/${keyId}`)).spend).toBe(0);
    await call('PATCH', `/v1/keys/${keyId}`, { name: 'k-restored' });

    await eventually(
      async () => {
        const res = await chat(secret);
        await res.arrayBuffer();
        return res.status === 200;
      },
      { timeoutMs: 2000, intervalMs: 100, what: 'the key admitted on its restored spend' },
    );
  });
});
