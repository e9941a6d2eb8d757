import { it } from 'vitest';
import { createWorld } from '../admin/identity-world.js';

const PASSWORD = 'correct horse battery';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
function cookieOf(response: Response, name: string) {
  const h = response.headers.getSetCookie().find((l) => l.startsWith(`${name}=`));
  return h === undefined ? undefined : h.slice(name.length + 1).split(';')[0];
}
it('probe', async () => {
  const w = await createWorld();
  const a = w.admin;
  const formOf = async (path: string) => {
    const page = await a.app.request(path);
    const html = await page.text();
    return { csrf: /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '', pre: cookieOf(page, 'kg_pre') ?? '' };
  };
  const post = (path: string, fields: Record<string, string>, cookie: string) =>
    a.app.request(path, { method: 'POST', headers: { ...FORM, cookie }, body: new URLSearchParams(fields).toString() });
  const sessionFor = async (userId: string, email: string) => {
    const link = await a.call('POST', `/v1/users/${userId}/password-link`);
    const f = await formOf(link.body.path);
    await post(link.body.path, { csrf: f.csrf, password: PASSWORD, confirm: PASSWORD }, `kg_pre=${f.pre}`);
    const g = await formOf('/sign-in');
    const r = await post('/sign-in', { csrf: g.csrf, method: 'password', email, password: PASSWORD }, `kg_pre=${g.pre}`);
    return `kg_session=${cookieOf(r, 'kg_session')}`;
  };
  const secrets = [w.keys.b1, w.teams.B1, w.orgs.B, w.users.b1member, w.keys.a2, w.teams.A2, w.users.a2member];
  const out: string[] = [];
  for (const role of ['team_developer', 'team_viewer', 'org_auditor', 'org_member', 'team_admin']) {
    const uid = (w.users as any)[role];
    const detail = await a.call('GET', `/v1/users/${uid}`);
    const cookie = await sessionFor(uid, detail.body.email);
    for (const path of ['/keys?view=all', `/keys/${w.keys.b1}`, `/keys/${w.keys.a2}`, `/keys/${w.keys.teammate}`, `/teams`, `/teams/${w.teams.B1}`, `/teams/${w.teams.A2}`, `/teams/${w.teams.A1}`, '/users', `/audit?entity_id=${w.keys.b1}`, '/audit', '/targets', `/keys?team_id=${w.teams.B1}`]) {
      const r = await a.app.request(path, { headers: { cookie } });
      const html = await r.text();
      const leaks = secrets.filter((s) => html.includes(s) && !path.includes(s));
      out.push(`${role} ${r.status} ${path} len=${html.length} leaks=${leaks.join(',')} ${/could not be loaded \(\d+\)/.exec(html)?.[0] ?? ''}`);
    }
  }
  console.log(out.join('\n'));
}, 120000);
