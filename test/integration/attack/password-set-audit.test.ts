/**
 * The audit log holds every mutation with its actor (docs/design.md "Audit log"). Using a
 * set-password link is one: it gives the user a password (a new credential to the admin plane)
 * and ends their sessions. Only the link's creation was audited (`user.password_link.create`), so
 * whether, and when, a link was used (by the user, or by whoever intercepted it) was in no
 * audit entry. Now `user.password.set`, with the user as actor, in the link's transaction; never
 * the password nor the token.
 */
import { describe, expect, it } from 'vitest';
import { createTestAdmin } from '../../helpers/admin-harness.js';

const PASSWORD = 'correct horse battery';

describe('setting a password through a one-time link', () => {
  it('is audited as user.password.set by the user, without the password or the token', async () => {
    const admin = createTestAdmin();
    const user = (await admin.call('POST', '/v1/users', { body: { email: 'p@example.com' } })).body;
    const link = await admin.call('POST', `/v1/users/${user.id}/password-link`);
    const page = await admin.app.request(link.body.path);
    const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
    const pre = /kg_pre=([^;]+)/.exec(page.headers.getSetCookie().join('\n'))?.[1] ?? '';
    admin.clock.advance(60_000);
    const set = await admin.app.request(link.body.path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `kg_pre=${pre}` },
      body: new URLSearchParams({ csrf, password: PASSWORD, confirm: PASSWORD }).toString(),
    });
    expect(set.status).toBe(303);

    const entries = (await admin.call('GET', `/v1/audit?entity_type=user&entity_id=${user.id}`)).body.data;
    const used = entries.find((entry: any) => entry.action === 'user.password.set');
    expect(used).toMatchObject({
      actor: { type: 'user', id: user.id },
      entity_type: 'user',
      entity_id: user.id,
      at: new Date(admin.clock.now()).toISOString(),
    });
    const text = JSON.stringify(entries);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(link.body.path.split('/').at(-1));

    // A used link writes nothing more.
    const again = await admin.app.request(link.body.path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `kg_pre=${pre}` },
      body: new URLSearchParams({ csrf, password: PASSWORD, confirm: PASSWORD }).toString(),
    });
    expect(again.status).toBe(404);
    const after = (await admin.call('GET', `/v1/audit?entity_type=user&entity_id=${user.id}`)).body.data;
    expect(after.filter((entry: any) => entry.action === 'user.password.set')).toHaveLength(1);
  });
});
