/**
 * An admin plane restored from a backup that records more changes than it lost before the
 * gateway next reads its change log: the head is above the gateway's cursor again, so a head
 * that went back (admin-restore-feed.test.ts) is no longer there to see. Seen: the gateway asked
 * for the changes after its cursor, got the restored log's later ones as if they followed the
 * changes it had applied, and a key revoked early in the restored log (below the cursor) kept
 * working from the cache. The gateway must notice that the change at its cursor is another one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/eventually.js';
import { RestoreStack } from './restore-stack.js';

let s: RestoreStack;
const call = (method: string, path: string, body?: unknown) => s.call(method, path, body);

beforeAll(async () => {
  s = await RestoreStack.start('keygate-restore-overtaken-');
});
afterAll(() => s.close());

const models = (key: string) => s.models(key);

describe('an admin plane restored from a backup, overtaking the log it lost', () => {
  it('a key revoked in the restored log below the gateway cursor is refused once the head passed the cursor', async () => {
    const org = await call('POST', '/v1/orgs', { name: 'o' });
    const team = await call('POST', '/v1/teams', { org_id: org.id, name: 't' });
    const other = await call('POST', '/v1/teams', { org_id: org.id, name: 'other' });
    await call('POST', '/v1/targets', { name: 'm', upstream: { base_url: `${s.mock.url}/v1` } });
    const created = await call('POST', '/v1/keys', {
      name: 'k',
      team_id: team.id,
      owner: { type: 'service_account', create: { name: 'svc' } },
    });
    const secret = created.secret as string;
    const keyId = created.key.id as string;

    await s.backUp();

    await s.startGateway();
    const lastSeq = async () =>
      ((await (await fetch(`${s.gateway!.url}/readyz`)).json()) as any).changeFeed.lastSeq as number;
    const cursorAtBackup = await lastSeq();
    // Life goes on after the backup: 20 more changes, which the gateway follows; the key is cached.
    for (let i = 0; i < 20; i++) await call('PATCH', `/v1/teams/${team.id}`, { rpm_limit: 1000 + i });
    expect((await models(secret)).status).toBe(200);
    await eventually(async () => (await lastSeq()) >= cursorAtBackup + 20, {
      what: 'the gateway following the log',
    });

    // The disk is lost and the backup restored. Before the gateway reads the log again, the
    // restored admin plane (elsewhere, pushing nowhere) records the revocation and 24 changes
    // that touch nothing of the key: its head ends 5 above the gateway's cursor.
    await s.putBackupInPlace();
    await s.startAdmin({ aside: true });
    await call('POST', `/v1/keys/${keyId}/revoke`);
    for (let i = 0; i < 24; i++) await call('PATCH', `/v1/teams/${other.id}`, { rpm_limit: 2000 + i });
    await s.admin.close();
    expect((await models(secret)).status).toBe(200); // cached, the admin plane out of reach

    await s.startAdmin();
    await eventually(
      async () => {
        const res = await models(secret);
        return res.status === 401 && ((await res.json()) as any).error.code === 'key_revoked';
      },
      { timeoutMs: 1500, intervalMs: 50, what: 'the revoked key refused' },
    );
    expect(await lastSeq()).toBe(cursorAtBackup + 25);
  });
});
