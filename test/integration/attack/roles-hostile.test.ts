/**
 * Attack round on roles beyond the authz matrix (test/integration/admin/authz-matrix.test.ts),
 * all of it held (kept as regressions):
 * - the console's pages, signed in with a password session as each role of org A, never show
 *   an id of org B's key, team, org or members, whatever id or filter the URL names;
 * - audit filters naming another org's org, entity or actor answer an empty page (not a leak);
 * - twenty concurrent PATCHes of one key: all 200, the final state is the last audit entry's
 *   `after`, one change-log row each.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type World } from '../admin/identity-world.js';

const PASSWORD = 'correct horse battery';

function cookieOf(response: Response, name: string): string | undefined {
  const line = response.headers.getSetCookie().find((l) => l.startsWith(`${name}=`));
  return line === undefined ? undefined : line.slice(name.length + 1).split(';')[0];
}

let w: World;
beforeAll(async () => {
  w = await createWorld();
});

async function formOf(path: string) {
  const page = await w.admin.app.request(path);
  const html = await page.text();
  return { csrf: /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '', pre: cookieOf(page, 'kg_pre') ?? '' };
}

function postForm(path: string, fields: Record<string, string>, cookie: string) {
  return w.admin.app.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: new URLSearchParams(fields).toString(),
  });
}

/** A console session of `userId` (a set-password link, then a password sign-in). */
async function sessionOf(userId: string): Promise<string> {
  const email = (await w.admin.call('GET', `/v1/users/${userId}`)).body.email as string;
  const link = await w.admin.call('POST', `/v1/users/${userId}/password-link`);
  const setForm = await formOf(link.body.path);
  await postForm(
    link.body.path,
    { csrf: setForm.csrf, password: PASSWORD, confirm: PASSWORD },
    `kg_pre=${setForm.pre}`,
  );
  const signInForm = await formOf('/sign-in');
  const signedIn = await postForm(
    '/sign-in',
    { csrf: signInForm.csrf, method: 'password', email, password: PASSWORD },
    `kg_pre=${signInForm.pre}`,
  );
  const token = cookieOf(signedIn, 'kg_session');
  if (token === undefined) throw new Error(`no session (${signedIn.status})`);
  return `kg_session=${token}`;
}

describe('console pages by role', () => {
  it.each(['team_admin', 'team_developer', 'team_viewer', 'org_auditor', 'org_member'] as const)(
    '%s of org A never sees an id of org B',
    async (role) => {
      const cookie = await sessionOf(w.users[role]);
      const otherOrg = [w.keys.b1, w.teams.B1, w.orgs.B, w.users.b1member, w.serviceAccounts.B1];
      const paths = [
        '/keys?view=all',
        `/keys?team_id=${w.teams.B1}`,
        `/keys/${w.keys.b1}`,
        '/teams',
        `/teams/${w.teams.B1}`,
        '/users',
        '/audit',
        `/audit?entity_id=${w.keys.b1}`,
        `/audit?actor_id=${w.users.b1member}`,
        '/targets',
      ];
      for (const path of paths) {
        const response = await w.admin.app.request(path, { headers: { cookie } });
        expect(response.status, path).toBe(200);
        const html = await response.text();
        const shown = otherOrg.filter(
          (id) => html.replaceAll(encodeURIComponent(id), '').includes(id) && !path.includes(id),
        );
        expect(shown, path).toEqual([]);
        if (path.includes(w.keys.b1) && path.startsWith('/keys/'))
          expect(html).toContain('could not be loaded (404)');
      }
    },
    30_000,
  );
});

describe('audit filters across orgs', () => {
  it('an org auditor filtering by another org, its entity or its actor gets an empty page', async () => {
    const token = w.token('org_auditor');
    for (const query of [
      `org_id=${w.orgs.B}`,
      `team_id=${w.teams.B1}`,
      `entity_id=${w.keys.b1}`,
      `actor_id=${w.users.other_org}`,
    ]) {
      const answer = await w.admin.call('GET', `/v1/audit?${query}`, { token });
      expect(answer.status, query).toBe(200);
      expect(answer.body.data, query).toEqual([]);
    }
  });
});

describe('concurrent PATCHes of one key', () => {
  it('last writer wins; the last audit entry is the final state; one change each', async () => {
    const created = await w.admin.call('POST', '/v1/keys', { body: { name: 'raced', team_id: w.teams.A1 } });
    const id = created.body.key.id as string;
    const before = w.admin.notifications.batches
      .flatMap((b) => b.changes)
      .filter((c) => c.entityId === id).length;
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        w.admin.call('PATCH', `/v1/keys/${id}`, { body: { name: `raced-${i}`, rpm_limit: i + 1 } }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    const final = (await w.admin.call('GET', `/v1/keys/${id}`)).body;
    const audit = (await w.admin.call('GET', `/v1/audit?entity_id=${id}&limit=100`)).body.data;
    expect(audit.filter((e: any) => e.action === 'key.update')).toHaveLength(20);
    expect(audit[0].after).toMatchObject({ name: final.name, rpm_limit: final.rpm_limit });
    const changes = w.admin.notifications.batches.flatMap((b) => b.changes).filter((c) => c.entityId === id);
    expect(changes.length - before).toBe(20);
  });
});
