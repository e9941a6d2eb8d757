/**
 * The authorization matrix (issue 5 "Done means"): every admin route × every caller (platform
 * admin, org owner/admin/auditor/member, team admin/developer/viewer, an owner of another org,
 * no token, an expired token, the master key) × own / same-team / other-team / other-org objects,
 * asserting the exact status. ONE table below drives everything; the first test fails when the
 * app (enumerated from GET /openapi.json) has a route the table does not list, or the table
 * lists a route the app does not have.
 *
 * Each case runs inside a transaction that is rolled back afterwards (the routes' own
 * `BEGIN IMMEDIATE` transactions nest as savepoints), so every case sees the same world.
 *
 * Reading an expectation row: `[a, b, c]` follows the route's `objects`; a single number applies
 * to every object; `null` skips a case that does not exist (the master key owns nothing).
 * Unlisted callers: `no_token` and `expired` → 401 everywhere; `master` → as `platform_admin`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { CALLERS, createWorld, type Caller, type World } from './identity-world.js';

type Status = number | null;
type Expect = Partial<Record<Caller, Status | Status[]>>;
interface Case {
  path: string;
  body?: unknown;
}
interface Row {
  objects: string[];
  request: (w: World, caller: Caller, object: string) => Case;
  expect: Expect;
}

const ONE = ['-'];
const KEY_OBJECTS = ['own', 'same_team', 'other_team', 'other_org'];
const USER_OBJECTS = ['own', 'same_team', 'other_team', 'other_org'];
const TEAM_OBJECTS = ['own_team', 'other_team', 'other_org'];
const ORG_OBJECTS = ['own_org', 'other_org'];
const GROUP_OBJECTS = ['global', 'own_org', 'other_org'];
const USAGE_OBJECTS = ['own_key', 'same_team_key', 'own_team', 'other_team', 'own_org', 'other_org'];

function keyId(w: World, caller: Caller, object: string): string {
  if (object === 'own')
    return caller === 'master' || caller === 'no_token' || caller === 'expired'
      ? w.keys.teammate
      : w.ownKeys[caller];
  return { same_team: w.keys.teammate, other_team: w.keys.a2, other_org: w.keys.b1 }[object]!;
}
function userId(w: World, caller: Caller, object: string): string {
  if (object === 'own')
    return caller === 'master' || caller === 'no_token' || caller === 'expired'
      ? w.users.teammate
      : w.users[caller];
  return { same_team: w.users.teammate, other_team: w.users.a2member, other_org: w.users.b1member }[object]!;
}
const teamId = (w: World, object: string) =>
  ({ own_team: w.teams.A1, other_team: w.teams.A2, other_org: w.teams.B1, empty_team: w.teams.A3 })[object]!;
const orgId = (w: World, object: string) =>
  ({ own_org: w.orgs.A, other_org: w.orgs.B, empty_org: w.orgs.C })[object]!;
const saId = (w: World, object: string) =>
  ({ own_team: w.serviceAccounts.A1, other_team: w.serviceAccounts.A2, other_org: w.serviceAccounts.B1 })[
    object
  ]!;
const groupId = (w: World, object: string) =>
  ({ global: w.groups.global, own_org: w.groups.A, other_org: w.groups.B })[object]!;
/** The member removed by DELETE .../members/:user_id: a plain member of that team / org. */
const teamMemberOf = (w: World, object: string) =>
  ({ own_team: w.users.teammate, other_team: w.users.a2member, other_org: w.users.b1member })[object]!;
const orgMemberOf = (w: World, object: string) =>
  ({ own_org: w.users.memA, other_org: w.users.memB })[object]!;

/** Visible to every authenticated caller. */
const EVERYONE: Expect = {
  platform_admin: 200,
  org_owner: 200,
  org_admin: 200,
  org_auditor: 200,
  org_member: 200,
  team_admin: 200,
  team_developer: 200,
  team_viewer: 200,
  other_org: 200,
};
/** Only platform admins (and the master key); everyone else is refused but may know the route. */
const PLATFORM_ONLY = (status: number): Expect => ({
  platform_admin: status,
  org_owner: 403,
  org_admin: 403,
  org_auditor: 403,
  org_member: 403,
  team_admin: 403,
  team_developer: 403,
  team_viewer: 403,
  other_org: 403,
});
/** A team-scoped write held by org owners/admins and team admins (objects TEAM_OBJECTS). */
const TEAM_MANAGE = (s: number): Expect => ({
  platform_admin: s,
  org_owner: [s, s, 404],
  org_admin: [s, s, 404],
  org_auditor: [403, 403, 404],
  org_member: [403, 403, 404],
  team_admin: [s, 404, 404],
  team_developer: [403, 404, 404],
  team_viewer: [403, 404, 404],
  other_org: [404, 404, s],
});
/**
 * A team's caps (budget and its period and soft budget, window limits, parallel cap, limit modes)
 * and its access: org owners/admins and platform admins only. The team admin sees its team and
 * gets 403 (the org-caps rule one level down); everyone else as TEAM_MANAGE.
 */
const TEAM_CAPS = (s: number): Expect => ({ ...TEAM_MANAGE(s), team_admin: [403, 404, 404] });
/** An org-scoped write held by org owners/admins (objects ORG_OBJECTS). */
const ORG_MANAGE = (s: number): Expect => ({
  platform_admin: s,
  org_owner: [s, 404],
  org_admin: [s, 404],
  org_auditor: [403, 404],
  org_member: [403, 404],
  team_admin: [403, 404],
  team_developer: [403, 404],
  team_viewer: [403, 404],
  other_org: [404, s],
});
/**
 * An org's caps (limits, budget) and access (mode, bindings): platform admins only. Org roles see
 * their org and get 403; everyone else 404 (issue 10 item 2).
 */
const ORG_CAPS = (s: number): Expect => ({
  platform_admin: s,
  org_owner: [403, 404],
  org_admin: [403, 404],
  org_auditor: [403, 404],
  org_member: [403, 404],
  team_admin: [403, 404],
  team_developer: [403, 404],
  team_viewer: [403, 404],
  other_org: [404, 403],
});
/** Changing an owner's membership, or making an owner: owners (and platform admins) only. */
const OWNER_ONLY = (s: number): Expect => ({
  ...ORG_CAPS(s),
  org_owner: [s, 404],
  other_org: [404, s],
});
/** Org-owned access groups: managed by org owners/admins; global ones by platform admins. */
const GROUP_MANAGE = (s: number): Expect => ({
  platform_admin: s,
  org_owner: [403, s, 404],
  org_admin: [403, s, 404],
  org_auditor: [403, 403, 404],
  org_member: [403, 403, 404],
  team_admin: [403, 403, 404],
  team_developer: [403, 403, 404],
  team_viewer: [403, 403, 404],
  other_org: [403, 404, s],
});
const GROUP_READ: Expect = {
  platform_admin: 200,
  org_owner: [200, 200, 404],
  org_admin: [200, 200, 404],
  org_auditor: [200, 200, 404],
  org_member: [200, 200, 404],
  team_admin: [200, 200, 404],
  team_developer: [200, 200, 404],
  team_viewer: [200, 200, 404],
  other_org: [200, 404, 200],
};
/** Key writes by admins of the scope (objects KEY_OBJECTS; `self` = what a developer gets on its own key). */
const KEY_WRITE = (s: number, self: number): Expect => ({
  platform_admin: s,
  master: [null, s, s, s],
  org_owner: [s, s, s, 404],
  org_admin: [s, s, s, 404],
  org_auditor: [403, 403, 403, 404],
  org_member: 404,
  team_admin: [s, s, 404, 404],
  team_developer: [self, 404, 404, 404],
  team_viewer: 404,
  other_org: [s, 404, 404, s],
});
/** User administration: platform admins only; the caller sees itself and the members it manages. */
const USER_ADMIN = (s: number): Expect => ({
  platform_admin: s,
  master: [null, s, s, s],
  org_owner: [403, 403, 403, 404],
  org_admin: [403, 403, 403, 404],
  org_auditor: [403, 404, 404, 404],
  org_member: [403, 404, 404, 404],
  team_admin: [403, 403, 404, 404],
  team_developer: [403, 404, 404, 404],
  team_viewer: [403, 404, 404, 404],
  other_org: [403, 404, 404, 403],
});

const uniq = () => Math.random().toString(36).slice(2, 10);

const TABLE: Record<string, Row> = {
  // Identity
  'GET /v1/me': { objects: ONE, request: () => ({ path: '/v1/me' }), expect: EVERYONE },
  'POST /v1/users': {
    objects: ONE,
    request: () => ({ path: '/v1/users', body: { email: `new-${uniq()}@example.test` } }),
    expect: PLATFORM_ONLY(201),
  },
  'GET /v1/users': { objects: ONE, request: () => ({ path: '/v1/users' }), expect: EVERYONE },
  'GET /v1/users/{id}': {
    objects: USER_OBJECTS,
    request: (w, c, o) => ({ path: `/v1/users/${userId(w, c, o)}` }),
    expect: {
      platform_admin: 200,
      master: [null, 200, 200, 200],
      org_owner: [200, 200, 200, 404],
      org_admin: [200, 200, 200, 404],
      org_auditor: [200, 404, 404, 404],
      org_member: [200, 404, 404, 404],
      team_admin: [200, 200, 404, 404],
      team_developer: [200, 404, 404, 404],
      team_viewer: [200, 404, 404, 404],
      other_org: [200, 404, 404, 200],
    },
  },
  'PATCH /v1/users/{id}': {
    objects: USER_OBJECTS,
    request: (w, c, o) => ({ path: `/v1/users/${userId(w, c, o)}`, body: { name: 'Renamed' } }),
    expect: {
      platform_admin: 200,
      master: [null, 200, 200, 200],
      org_owner: [200, 403, 403, 404],
      org_admin: [200, 403, 403, 404],
      org_auditor: [200, 404, 404, 404],
      org_member: [200, 404, 404, 404],
      team_admin: [200, 403, 404, 404],
      team_developer: [200, 404, 404, 404],
      team_viewer: [200, 404, 404, 404],
      other_org: [200, 404, 404, 403],
    },
  },
  'DELETE /v1/users/{id}': {
    objects: USER_OBJECTS,
    request: (w, c, o) => ({ path: `/v1/users/${userId(w, c, o)}` }),
    expect: USER_ADMIN(204),
  },
  'POST /v1/users/{id}/tokens': {
    objects: USER_OBJECTS,
    request: (w, c, o) => ({ path: `/v1/users/${userId(w, c, o)}/tokens`, body: { ttl_seconds: 600 } }),
    expect: USER_ADMIN(200),
  },
  'POST /v1/users/{id}/password-link': {
    objects: USER_OBJECTS,
    request: (w, c, o) => ({ path: `/v1/users/${userId(w, c, o)}/password-link` }),
    expect: USER_ADMIN(201),
  },

  // Orgs
  'POST /v1/orgs': {
    objects: ONE,
    request: () => ({ path: '/v1/orgs', body: { name: `org-${uniq()}` } }),
    expect: PLATFORM_ONLY(201),
  },
  'GET /v1/orgs': { objects: ONE, request: () => ({ path: '/v1/orgs' }), expect: EVERYONE },
  'GET /v1/orgs/{id}': {
    objects: ORG_OBJECTS,
    request: (w, _c, o) => ({ path: `/v1/orgs/${orgId(w, o)}` }),
    expect: {
      ...EVERYONE,
      org_owner: [200, 404],
      org_admin: [200, 404],
      org_auditor: [200, 404],
      org_member: [200, 404],
      team_admin: [200, 404],
      team_developer: [200, 404],
      team_viewer: [200, 404],
      other_org: [404, 200],
    },
  },
  'PATCH /v1/orgs/{id}': {
    objects: ORG_OBJECTS,
    request: (w, _c, o) => ({ path: `/v1/orgs/${orgId(w, o)}`, body: { rpm_limit: 1000 } }),
    expect: ORG_CAPS(200),
  },
  'DELETE /v1/orgs/{id}': {
    // Orgs A and B have teams (409 for whoever may delete); org C is empty and invisible to members.
    objects: ['own_org', 'other_org', 'empty_org'],
    request: (w, _c, o) => ({ path: `/v1/orgs/${orgId(w, o)}` }),
    expect: {
      platform_admin: [409, 409, 204],
      org_owner: [403, 404, 404],
      org_admin: [403, 404, 404],
      org_auditor: [403, 404, 404],
      org_member: [403, 404, 404],
      team_admin: [403, 404, 404],
      team_developer: [403, 404, 404],
      team_viewer: [403, 404, 404],
      other_org: [404, 403, 404],
    },
  },
  'PUT /v1/orgs/{id}/members/{user_id}': {
    objects: ORG_OBJECTS,
    request: (w, _c, o) => ({
      path: `/v1/orgs/${orgId(w, o)}/members/${orgMemberOf(w, o)}`,
      body: { role: 'org_auditor' },
    }),
    expect: ORG_MANAGE(200),
  },
  'DELETE /v1/orgs/{id}/members/{user_id}': {
    objects: ORG_OBJECTS,
    request: (w, _c, o) => ({ path: `/v1/orgs/${orgId(w, o)}/members/${orgMemberOf(w, o)}` }),
    expect: ORG_MANAGE(204),
  },

  // Teams
  'POST /v1/teams': {
    objects: ORG_OBJECTS,
    request: (w, _c, o) => ({ path: '/v1/teams', body: { org_id: orgId(w, o), name: `team-${uniq()}` } }),
    expect: ORG_MANAGE(201),
  },
  'GET /v1/teams': { objects: ONE, request: () => ({ path: '/v1/teams' }), expect: EVERYONE },
  'GET /v1/teams/{id}': {
    objects: TEAM_OBJECTS,
    request: (w, _c, o) => ({ path: `/v1/teams/${teamId(w, o)}` }),
    expect: {
      platform_admin: 200,
      org_owner: [200, 200, 404],
      org_admin: [200, 200, 404],
      org_auditor: [200, 200, 404],
      org_member: [403, 403, 404],
      team_admin: [200, 404, 404],
      team_developer: [200, 404, 404],
      team_viewer: [200, 404, 404],
      other_org: [404, 404, 200],
    },
  },
  'PATCH /v1/teams/{id}': {
    objects: TEAM_OBJECTS,
    request: (w, _c, o) => ({
      path: `/v1/teams/${teamId(w, o)}`,
      body: { self_service: { max_keys_per_user: 5 } },
    }),
    expect: TEAM_MANAGE(200),
  },
  'DELETE /v1/teams/{id}': {
    // A1 and B1 own keys (409 for whoever may delete); A3 is empty.
    objects: ['own_team', 'empty_team', 'other_org'],
    request: (w, _c, o) => ({ path: `/v1/teams/${teamId(w, o)}` }),
    expect: {
      platform_admin: [409, 204, 409],
      org_owner: [409, 204, 404],
      org_admin: [409, 204, 404],
      org_auditor: [403, 403, 404],
      org_member: [403, 403, 404],
      team_admin: [403, 404, 404],
      team_developer: [403, 404, 404],
      team_viewer: [403, 404, 404],
      other_org: [404, 404, 409],
    },
  },
  'PUT /v1/teams/{id}/members/{user_id}': {
    objects: TEAM_OBJECTS,
    request: (w, _c, o) => ({
      path: `/v1/teams/${teamId(w, o)}/members/${o === 'other_org' ? w.users.memB : w.users.memA}`,
      body: { role: 'team_viewer' },
    }),
    expect: TEAM_MANAGE(200),
  },
  'DELETE /v1/teams/{id}/members/{user_id}': {
    objects: TEAM_OBJECTS,
    request: (w, _c, o) => ({ path: `/v1/teams/${teamId(w, o)}/members/${teamMemberOf(w, o)}` }),
    expect: TEAM_MANAGE(204),
  },

  // Service accounts
  'POST /v1/teams/{id}/service-accounts': {
    objects: TEAM_OBJECTS,
    request: (w, _c, o) => ({
      path: `/v1/teams/${teamId(w, o)}/service-accounts`,
      body: { name: `sa-${uniq()}` },
    }),
    expect: TEAM_MANAGE(201),
  },
  'GET /v1/teams/{id}/service-accounts': {
    objects: TEAM_OBJECTS,
    request: (w, _c, o) => ({ path: `/v1/teams/${teamId(w, o)}/service-accounts` }),
    expect: {
      platform_admin: 200,
      org_owner: [200, 200, 404],
      org_admin: [200, 200, 404],
      org_auditor: [200, 200, 404],
      org_member: [403, 403, 404],
      team_admin: [200, 404, 404],
      team_developer: [200, 404, 404],
      team_viewer: [403, 404, 404],
      other_org: [404, 404, 200],
    },
  },
  'DELETE /v1/service-accounts/{id}': {
    objects: TEAM_OBJECTS,
    request: (w, _c, o) => ({ path: `/v1/service-accounts/${saId(w, o)}` }),
    expect: TEAM_MANAGE(204),
  },

  // Targets (platform-wide; everyone authenticated reads them)
  'POST /v1/targets': {
    objects: ONE,
    request: () => ({
      path: '/v1/targets',
      body: { name: `t-${uniq()}`, upstream: { base_url: 'http://127.0.0.1:9/v1' } },
    }),
    expect: PLATFORM_ONLY(201),
  },
  'GET /v1/targets': { objects: ONE, request: () => ({ path: '/v1/targets' }), expect: EVERYONE },
  'GET /v1/targets/{id}': {
    objects: ONE,
    request: (w) => ({ path: `/v1/targets/${w.targets.shared}` }),
    expect: EVERYONE,
  },
  'PATCH /v1/targets/{id}': {
    objects: ONE,
    request: (w) => ({ path: `/v1/targets/${w.targets.shared}`, body: { tags: ['x'] } }),
    expect: PLATFORM_ONLY(200),
  },
  'DELETE /v1/targets/{id}': {
    objects: ONE,
    request: (w) => ({ path: `/v1/targets/${w.targets.shared}` }),
    expect: PLATFORM_ONLY(204),
  },

  // Access groups (global, or owned by one org)
  'POST /v1/access-groups': {
    objects: GROUP_OBJECTS,
    request: (w, _c, o) => ({
      path: '/v1/access-groups',
      body: o === 'global' ? { name: `g-${uniq()}` } : { name: `g-${uniq()}`, org_id: orgId(w, o) },
    }),
    expect: GROUP_MANAGE(201),
  },
  'GET /v1/access-groups': { objects: ONE, request: () => ({ path: '/v1/access-groups' }), expect: EVERYONE },
  'GET /v1/access-groups/{id}': {
    objects: GROUP_OBJECTS,
    request: (w, _c, o) => ({ path: `/v1/access-groups/${groupId(w, o)}` }),
    expect: GROUP_READ,
  },
  'GET /v1/access-groups/{id}/targets': {
    objects: GROUP_OBJECTS,
    request: (w, _c, o) => ({ path: `/v1/access-groups/${groupId(w, o)}/targets` }),
    expect: GROUP_READ,
  },
  'PATCH /v1/access-groups/{id}': {
    objects: GROUP_OBJECTS,
    request: (w, _c, o) => ({ path: `/v1/access-groups/${groupId(w, o)}`, body: { name: `g-${uniq()}` } }),
    expect: GROUP_MANAGE(200),
  },
  'DELETE /v1/access-groups/{id}': {
    objects: GROUP_OBJECTS,
    request: (w, _c, o) => ({ path: `/v1/access-groups/${groupId(w, o)}` }),
    expect: GROUP_MANAGE(204),
  },

  // Keys
  'POST /v1/keys': {
    objects: TEAM_OBJECTS,
    request: (w, _c, o) => ({ path: '/v1/keys', body: { name: `k-${uniq()}`, team_id: teamId(w, o) } }),
    expect: { ...TEAM_MANAGE(201), team_developer: [201, 404, 404] },
  },
  'GET /v1/keys': { objects: ONE, request: () => ({ path: '/v1/keys' }), expect: EVERYONE },
  'GET /v1/keys/{id}': {
    objects: KEY_OBJECTS,
    request: (w, c, o) => ({ path: `/v1/keys/${keyId(w, c, o)}` }),
    expect: { ...KEY_WRITE(200, 200), org_auditor: [200, 200, 200, 404] },
  },
  'PATCH /v1/keys/{id}': {
    objects: KEY_OBJECTS,
    request: (w, c, o) => ({ path: `/v1/keys/${keyId(w, c, o)}`, body: { name: 'renamed' } }),
    // Self-service owners cannot edit (that could lift the team's bounds): visible, so 403.
    expect: KEY_WRITE(200, 403),
  },
  'POST /v1/keys/{id}/regenerate': {
    objects: KEY_OBJECTS,
    request: (w, c, o) => ({ path: `/v1/keys/${keyId(w, c, o)}/regenerate`, body: {} }),
    expect: KEY_WRITE(200, 200),
  },
  'POST /v1/keys/{id}/revoke': {
    objects: KEY_OBJECTS,
    request: (w, c, o) => ({ path: `/v1/keys/${keyId(w, c, o)}/revoke`, body: {} }),
    expect: KEY_WRITE(200, 200),
  },
  'DELETE /v1/keys/{id}': {
    objects: KEY_OBJECTS,
    request: (w, c, o) => ({ path: `/v1/keys/${keyId(w, c, o)}` }),
    expect: KEY_WRITE(204, 204),
  },
  // Issue 14: block/unblock, overrides, explain (key admins write; readers of the key explain).
  'POST /v1/keys/{id}/block': {
    objects: KEY_OBJECTS,
    request: (w, c, o) => ({ path: `/v1/keys/${keyId(w, c, o)}/block`, body: {} }),
    expect: KEY_WRITE(200, 403),
  },
  'POST /v1/keys/{id}/unblock': {
    objects: KEY_OBJECTS,
    request: (w, c, o) => ({ path: `/v1/keys/${keyId(w, c, o)}/unblock`, body: {} }),
    expect: KEY_WRITE(200, 403),
  },
  'POST /v1/users/{id}/block': {
    objects: USER_OBJECTS,
    request: (w, c, o) => ({ path: `/v1/users/${userId(w, c, o)}/block`, body: {} }),
    expect: PLATFORM_ONLY(200),
  },
  'POST /v1/users/{id}/unblock': {
    objects: USER_OBJECTS,
    request: (w, c, o) => ({ path: `/v1/users/${userId(w, c, o)}/unblock`, body: {} }),
    expect: PLATFORM_ONLY(200),
  },
  'POST /v1/keys/{id}/overrides': {
    objects: KEY_OBJECTS,
    request: (w, c, o) => ({
      path: `/v1/keys/${keyId(w, c, o)}/overrides`,
      body: { rpm_limit: 5, expires_at: new Date(Date.now() + 3_600_000).toISOString() },
    }),
    expect: KEY_WRITE(201, 403),
  },
  'GET /v1/keys/{id}/overrides': {
    objects: KEY_OBJECTS,
    request: (w, c, o) => ({ path: `/v1/keys/${keyId(w, c, o)}/overrides` }),
    expect: { ...KEY_WRITE(200, 200), org_auditor: [200, 200, 200, 404] },
  },
  'DELETE /v1/keys/{id}/overrides/{override_id}': {
    objects: KEY_OBJECTS,
    request: (w, c, o) => ({ path: `/v1/keys/${keyId(w, c, o)}/overrides/ovr_missing` }),
    expect: KEY_WRITE(404, 403),
  },
  'GET /v1/keys/{id}/explain': {
    objects: KEY_OBJECTS,
    request: (w, c, o) => ({ path: `/v1/keys/${keyId(w, c, o)}/explain?model=model-a` }),
    expect: { ...KEY_WRITE(200, 200), org_auditor: [200, 200, 200, 404] },
  },

  // Audit and usage
  'GET /v1/audit': {
    objects: ONE,
    request: () => ({ path: '/v1/audit' }),
    expect: { ...EVERYONE, org_member: 403, team_developer: 403, team_viewer: 403 },
  },
  'GET /v1/usage': {
    objects: USAGE_OBJECTS,
    request: (w, c, o) => {
      const query = {
        own_key: `key_id=${keyId(w, c, 'own')}`,
        same_team_key: `key_id=${w.keys.teammate}`,
        own_team: `team_id=${w.teams.A1}`,
        other_team: `team_id=${w.teams.A2}`,
        own_org: `org_id=${w.orgs.A}`,
        other_org: `org_id=${w.orgs.B}`,
      }[o]!;
      return { path: `/v1/usage?${query}&group_by=day` };
    },
    expect: {
      platform_admin: 200,
      master: [null, 200, 200, 200, 200, 200],
      org_owner: [200, 200, 200, 200, 200, 404],
      org_admin: [200, 200, 200, 200, 200, 404],
      org_auditor: [200, 200, 200, 200, 200, 404],
      org_member: [404, 404, 403, 403, 403, 404],
      team_admin: [200, 200, 200, 404, 403, 404],
      team_developer: [200, 404, 403, 404, 403, 404],
      team_viewer: [404, 404, 403, 404, 403, 404],
      other_org: [200, 404, 404, 404, 404, 200],
    },
  },
};

/** The owner of the org (A: org_owner, B: other_org). */
const orgOwnerOf = (w: World, object: string) =>
  ({ own_org: w.users.org_owner, other_org: w.users.other_org })[object]!;

/**
 * More cases of routes in TABLE (same method and path, another body or object): the org-cap and
 * membership rules of issue 10, and the team caps one level down. Keys are `METHOD path: what`.
 */
const VARIANTS: Record<string, Row> = {
  'PATCH /v1/orgs/{id}: rename only (org owners/admins keep it)': {
    objects: ORG_OBJECTS,
    request: (w, _c, o) => ({ path: `/v1/orgs/${orgId(w, o)}`, body: { name: `org-${uniq()}` } }),
    expect: ORG_MANAGE(200),
  },
  'PATCH /v1/orgs/{id}: lift the budget': {
    objects: ORG_OBJECTS,
    request: (w, _c, o) => ({ path: `/v1/orgs/${orgId(w, o)}`, body: { max_budget: null, rpm_limit: null } }),
    expect: ORG_CAPS(200),
  },
  'PATCH /v1/orgs/{id}: open the access': {
    objects: ORG_OBJECTS,
    request: (w, _c, o) => ({ path: `/v1/orgs/${orgId(w, o)}`, body: { access: { mode: 'all' } } }),
    expect: ORG_CAPS(200),
  },
  'PATCH /v1/orgs/{id}: bind an access group at org level': {
    objects: ORG_OBJECTS,
    request: (w, _c, o) => ({
      path: `/v1/orgs/${orgId(w, o)}`,
      body: {
        access: { mode: 'restrict', access_groups: [o === 'own_org' ? w.groups.A : w.groups.B] },
      },
    }),
    expect: ORG_CAPS(200),
  },
  'PUT /v1/orgs/{id}/members/{user_id}: a user outside the org (same 404 as unknown)': {
    objects: ORG_OBJECTS,
    request: (w, _c, o) => ({
      path: `/v1/orgs/${orgId(w, o)}/members/${w.users.newcomer}`,
      body: { role: 'org_member' },
    }),
    expect: { ...ORG_MANAGE(404), platform_admin: 200, other_org: [404, 404] },
  },
  'PUT /v1/orgs/{id}/members/{user_id}: an unknown user id': {
    objects: ORG_OBJECTS,
    request: (w, _c, o) => ({
      path: `/v1/orgs/${orgId(w, o)}/members/usr_unknown`,
      body: { role: 'org_member' },
    }),
    expect: { ...ORG_MANAGE(404), other_org: [404, 404] },
  },
  'PUT /v1/orgs/{id}/members/{user_id}: demote the owner': {
    objects: ORG_OBJECTS,
    request: (w, _c, o) => ({
      path: `/v1/orgs/${orgId(w, o)}/members/${orgOwnerOf(w, o)}`,
      body: { role: 'org_member' },
    }),
    expect: OWNER_ONLY(200),
  },
  'PUT /v1/orgs/{id}/members/{user_id}: make someone an owner': {
    objects: ORG_OBJECTS,
    request: (w, _c, o) => ({
      path: `/v1/orgs/${orgId(w, o)}/members/${orgMemberOf(w, o)}`,
      body: { role: 'org_owner' },
    }),
    expect: OWNER_ONLY(200),
  },
  'DELETE /v1/orgs/{id}/members/{user_id}: remove the owner': {
    objects: ORG_OBJECTS,
    request: (w, _c, o) => ({ path: `/v1/orgs/${orgId(w, o)}/members/${orgOwnerOf(w, o)}` }),
    expect: OWNER_ONLY(204),
  },
  'PATCH /v1/teams/{id}: rename only (team admins keep it)': {
    objects: TEAM_OBJECTS,
    request: (w, _c, o) => ({ path: `/v1/teams/${teamId(w, o)}`, body: { name: `team-${uniq()}` } }),
    expect: TEAM_MANAGE(200),
  },
  'PATCH /v1/teams/{id}: self-service policy (team admins keep it)': {
    objects: TEAM_OBJECTS,
    request: (w, _c, o) => ({
      path: `/v1/teams/${teamId(w, o)}`,
      body: {
        self_service: { enabled: false, budget_ceiling: 5, require_expiry: true, max_expiry_days: 30 },
      },
    }),
    expect: TEAM_MANAGE(200),
  },
  'PATCH /v1/teams/{id}: set the budget': {
    objects: TEAM_OBJECTS,
    request: (w, _c, o) => ({ path: `/v1/teams/${teamId(w, o)}`, body: { max_budget: 50 } }),
    expect: TEAM_CAPS(200),
  },
  'PATCH /v1/teams/{id}: lift the budget and a limit': {
    objects: TEAM_OBJECTS,
    request: (w, _c, o) => ({
      path: `/v1/teams/${teamId(w, o)}`,
      body: { max_budget: null, rpm_limit: null },
    }),
    expect: TEAM_CAPS(200),
  },
  'PATCH /v1/teams/{id}: raise a window limit': {
    objects: TEAM_OBJECTS,
    request: (w, _c, o) => ({ path: `/v1/teams/${teamId(w, o)}`, body: { rpm_limit: 1000 } }),
    expect: TEAM_CAPS(200),
  },
  'PATCH /v1/teams/{id}: put a limit in shadow mode': {
    objects: TEAM_OBJECTS,
    request: (w, _c, o) => ({
      path: `/v1/teams/${teamId(w, o)}`,
      body: { tpm_limit: { value: 1000, mode: 'shadow' } },
    }),
    expect: TEAM_CAPS(200),
  },
  'PATCH /v1/teams/{id}: raise the parallel cap': {
    objects: TEAM_OBJECTS,
    request: (w, _c, o) => ({ path: `/v1/teams/${teamId(w, o)}`, body: { max_parallel_requests: 100 } }),
    expect: TEAM_CAPS(200),
  },
  'PATCH /v1/teams/{id}: budget period and soft budget': {
    objects: TEAM_OBJECTS,
    request: (w, _c, o) => ({
      path: `/v1/teams/${teamId(w, o)}`,
      body: { budget_period: 'month', soft_budget: 10 },
    }),
    expect: TEAM_CAPS(200),
  },
  'PATCH /v1/teams/{id}: change the access': {
    objects: TEAM_OBJECTS,
    request: (w, _c, o) => ({ path: `/v1/teams/${teamId(w, o)}`, body: { access: { mode: 'inherit' } } }),
    expect: TEAM_CAPS(200),
  },
  'PUT /v1/teams/{id}/members/{user_id}: a user outside the org (same 404 as unknown)': {
    objects: TEAM_OBJECTS,
    request: (w, _c, o) => ({
      path: `/v1/teams/${teamId(w, o)}/members/${w.users.newcomer}`,
      body: { role: 'team_viewer' },
    }),
    expect: { ...TEAM_MANAGE(404), platform_admin: 200, other_org: [404, 404, 404] },
  },
};

function expected(row: Row, caller: Caller, index: number): Status {
  if (caller === 'no_token' || caller === 'expired') return 401;
  const entry = row.expect[caller] ?? (caller === 'master' ? row.expect.platform_admin : undefined);
  if (entry === undefined) throw new Error(`no expectation for ${caller}`);
  const status = Array.isArray(entry) ? entry[index] : entry;
  if (status === undefined) throw new Error(`expectation of ${caller} has no entry ${index}`);
  if (caller === 'master' && row.objects[index] === 'own' && !Array.isArray(row.expect.master)) return null;
  return status;
}

describe('authorization matrix: every admin route × every caller × every object', () => {
  let world: World;
  beforeAll(async () => {
    world = await createWorld();
  });

  it('the table lists exactly the /v1 routes of the app (a new route cannot be forgotten)', async () => {
    const doc = (await world.admin.call('GET', '/openapi.json', { token: null })).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    const methods = ['get', 'post', 'put', 'patch', 'delete'];
    const inApp = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/v1/'))
      .flatMap(([path, ops]) =>
        Object.keys(ops)
          .filter((m) => methods.includes(m))
          .map((m) => `${m.toUpperCase()} ${path}`),
      )
      .sort();
    const inTable = Object.keys(TABLE).sort();
    expect({ missingFromTable: inApp.filter((r) => !inTable.includes(r)) }).toEqual({ missingFromTable: [] });
    expect({ missingFromApp: inTable.filter((r) => !inApp.includes(r)) }).toEqual({ missingFromApp: [] });
  });

  it('every row gives an expectation for every caller and object', () => {
    for (const [route, row] of [...Object.entries(TABLE), ...Object.entries(VARIANTS)]) {
      for (const caller of CALLERS) {
        row.objects.forEach((_o, i) =>
          expect(() => expected(row, caller, i), `${route} ${caller}`).not.toThrow(),
        );
      }
    }
  });

  for (const [route, row] of [...Object.entries(TABLE), ...Object.entries(VARIANTS)]) {
    it(`${route}`, async () => {
      const [method] = route.split(' ') as [string];
      const mismatches: string[] = [];
      let cases = 0;
      for (const caller of CALLERS) {
        for (const [index, object] of row.objects.entries()) {
          const want = expected(row, caller, index);
          if (want === null) continue;
          const { path, body } = row.request(world, caller, object);
          const response = await world.rolledBack(() =>
            world.admin.call(method, path, { token: world.token(caller), body }),
          );
          const got = response.status;
          const detail = got === want ? '' : JSON.stringify(response.body?.error?.message ?? '');
          cases++;
          if (got !== want) mismatches.push(`${caller} × ${object}: expected ${want}, got ${got} ${detail}`);
        }
      }
      expect(cases).toBeGreaterThan(0);
      expect(mismatches).toEqual([]);
    });
  }
});
