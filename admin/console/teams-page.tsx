/**
 * Teams (`GET /teams`, `GET /teams/:id`): the teams the caller can see, and per team its limits,
 * self-service policy card and service accounts. Read-only here; settings are changed with the
 * admin API (`PATCH /v1/teams/:id`, memberships with `PUT /v1/teams/:id/members/:user_id`).
 */
import type { Context } from 'hono';
import type { AdminEnv } from '../context.js';
import { apiGet, type ConsoleContext } from './console-context.js';
import { WINDOW_LIMITS, type TeamView } from './key-types.js';
import { Unavailable } from './layout.js';
import { usd, type ListAnswer } from './pages.js';

interface UserDetail {
  id: string;
  email: string;
  name: string | null;
  memberships: { teams: { team_id: string; role: string }[] };
}

const MAX_MEMBER_LOOKUPS = 500;

/** The team's members as the caller may see them: `GET /v1/users`, then each user's memberships. */
async function membersOf(ctx: ConsoleContext, c: Context<AdminEnv>, teamId: string) {
  const users = await apiGet<ListAnswer<{ id: string }>>(ctx, c, `/v1/users?limit=${MAX_MEMBER_LOOKUPS}`);
  if (users.status !== 200) return { status: users.status, members: [] };
  const members: { user: UserDetail; role: string }[] = [];
  for (const { id } of users.body.data) {
    const detail = await apiGet<UserDetail>(ctx, c, `/v1/users/${encodeURIComponent(id)}`);
    const membership = detail.body.memberships?.teams.find((m) => m.team_id === teamId);
    if (detail.status === 200 && membership !== undefined)
      members.push({ user: detail.body, role: membership.role });
  }
  return { status: 200, members };
}

interface ServiceAccountView {
  id: string;
  name: string;
  description: string | null;
  active_key_count: number;
}

export async function teamsPage(ctx: ConsoleContext, c: Context<AdminEnv>) {
  const teams = await apiGet<ListAnswer<TeamView>>(ctx, c, '/v1/teams?limit=1000');
  return {
    title: 'Teams',
    body: (
      <>
        <h1>Teams</h1>
        {teams.status !== 200 ? (
          <Unavailable what="The team list" status={teams.status} />
        ) : (
          <ul class="cards">
            {teams.body.data.map((t) => (
              <li>
                <a href={`/teams/${t.id}`}>{t.name}</a>{' '}
                <span class="muted">self-service {t.self_service.enabled ? 'on' : 'off'}</span>
              </li>
            ))}
          </ul>
        )}
      </>
    ),
  };
}

export async function teamDetailPage(ctx: ConsoleContext, c: Context<AdminEnv>) {
  const id = encodeURIComponent(c.req.param('id') ?? '');
  const team = await apiGet<TeamView>(ctx, c, `/v1/teams/${id}`);
  if (team.status !== 200)
    return { title: 'Team', body: <Unavailable what="This team" status={team.status} /> };
  const t = team.body;
  const accounts = await apiGet<ListAnswer<ServiceAccountView>>(ctx, c, `/v1/teams/${id}/service-accounts`);
  const p = t.self_service;
  const members = await membersOf(ctx, c, t.id);
  return {
    title: t.name,
    body: (
      <>
        <p class="crumbs">
          <a href="/teams">Teams</a> › {t.name}
        </p>
        <h1>{t.name}</h1>
        <h2>Limits</h2>
        <dl class="facts limits">
          <dt>Budget</dt>
          <dd>{t.max_budget === null ? 'No budget' : usd(t.max_budget)}</dd>
          {WINDOW_LIMITS.map(([field, label]) => (
            <>
              <dt>{label}</dt>
              <dd>{t[field] === null ? 'No limit' : String(t[field])}</dd>
            </>
          ))}
        </dl>
        <section class="card" aria-labelledby="ss-title">
          <h2 id="ss-title">Self-Service Keys</h2>
          <dl class="facts">
            <dt>Enabled</dt>
            <dd>{p.enabled ? 'yes' : 'no'}</dd>
            <dt>Max keys per user</dt>
            <dd>{p.max_keys_per_user ?? 'No limit'}</dd>
            <dt>Budget ceiling</dt>
            <dd>{p.budget_ceiling === null ? 'None' : usd(p.budget_ceiling)}</dd>
            <dt>Require expiry</dt>
            <dd>{p.require_expiry ? 'yes' : 'no'}</dd>
            <dt>Max expiry days</dt>
            <dd>{p.max_expiry_days ?? 'No limit'}</dd>
          </dl>
        </section>
        <h2>Asset access</h2>
        <p>
          {t.access.mode === 'inherit'
            ? 'Inherits the organization set.'
            : `Restricted to targets ${t.access.targets.join(', ') || 'none'} and groups ${t.access.access_groups.join(', ') || 'none'}.`}
        </p>
        <h2>Members</h2>
        {members.status !== 200 ? (
          <Unavailable what="Members" status={members.status} />
        ) : members.members.length === 0 ? (
          <p class="muted">No members you can see.</p>
        ) : (
          <ul>
            {members.members.map((m) => (
              <li>
                {m.user.name ?? m.user.email} <span class="muted">({m.role.replace('team_', '')})</span>
              </li>
            ))}
          </ul>
        )}
        <h2>Service accounts</h2>
        {accounts.status !== 200 ? (
          <Unavailable what="Service accounts" status={accounts.status} />
        ) : (
          <ul>
            {accounts.body.data.map((sa) => (
              <li>
                {sa.name} <span class="muted">({sa.active_key_count} active keys)</span>
              </li>
            ))}
          </ul>
        )}
      </>
    ),
  };
}
