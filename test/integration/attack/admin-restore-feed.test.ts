/**
 * An admin plane restored from a backup of its database, with gateways that kept running: the
 * restored change log ends below the seq the gateways had followed it to, so its next changes
 * carry seqs the gateways take for changes already applied. Seen: after the restore, a key
 * revoked through the admin API kept working at the gateway (pushed and pulled alike), because
 * the gateway asked for changes after its old cursor, got none, and ignored the revocation's
 * lower seq; the cached policy (loaded at the log's former head) would not even have been
 * evicted by a change of a lower seq. The promise is a refusal within 1 s.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/eventually.js';
import { RestoreStack } from './restore-stack.js';

let s: RestoreStack;
const call = (method: string, path: string, body?: unknown) => s.call(method, path, body);

beforeAll(async () => {
  s = await RestoreStack.start('keygate-restore-');
});
afterAll(() => s.close());

const models = (key: string) => s.models(key);

describe('an admin plane restored from a backup', () => {
  it('a key revoked after the restore is refused by a gateway that followed the log past the backup', async () => {
    const org = await call('POST', '/v1/orgs', { name: 'o' });
    const team = await call('POST', '/v1/teams', { org_id: org.id, name: 't' });
    await call('POST', '/v1/targets', { name: 'm', upstream: { base_url: `${s.mock.url}/v1` } });
    const created = await call('POST', '/v1/keys', {
      name: 'k',
      team_id: team.id,
      owner: { type: 'service_account', create: { name: 'svc' } },
    });
    const secret = created.secret as string;
    const keyId = created.key.id as string;

    // The backup: the database as it is now (closed cleanly, so the file holds everything).
    await s.backUp();

    await s.startGateway();
    // Life goes on after the backup: 20 more changes, which the gateway follows.
    for (let i = 0; i < 20; i++) await call('PATCH', `/v1/teams/${team.id}`, { rpm_limit: 1000 + i });
    expect((await models(secret)).status).toBe(200);
    await eventually(
      async () => {
        const ready = (await (await fetch(`${s.gateway!.url}/readyz`)).json()) as any;
        return ready.changeFeed.lastSeq >= 20;
      },
      { what: 'the gateway following the log' },
    );

    // The admin plane's disk is lost; the backup is restored.
    await s.putBackupInPlace();
    expect(existsSync(`${s.dbPath}-wal`)).toBe(false);
    await s.startAdmin();

    await call('POST', `/v1/keys/${keyId}/revoke`);
    await eventually(
      async () => {
        const res = await models(secret);
        return res.status === 401 && ((await res.json()) as any).error.code === 'key_revoked';
      },
      { timeoutMs: 1500, intervalMs: 50, what: 'the revoked key refused' },
    );
  });
});
