/**
 * The API Keys page (`GET /keys`): count, All Keys / My Keys tabs, search and team/status
 * filters (a plain GET form), the table, and the row actions the caller may take. Data comes
 * from `GET /v1/keys` and `GET /v1/teams` as the signed-in caller; actions run in the browser
 * against the JSON API (admin/console/assets/console.js).
 */
import type { Context } from 'hono';
import type { AdminEnv } from '../context.js';
import {
  apiGet,
  canAnywhere,
  canOnTeam,
  type ConsoleContext,
  type Me,
  type PageState,
} from './console-context.js';
import { CreateKeyDialog, type CreateKeyOptions } from './key-create-dialog.js';
import { ConfirmDialog, SecretDialog } from './key-action-dialogs.js';
import {
  WINDOW_LIMITS,
  type AccessGroupView,
  type KeyView,
  type TargetView,
  type TeamView,
} from './key-types.js';
import { DataTable } from './data-table.js';
import { Unavailable } from './layout.js';
import { formatTime, usd, type ListAnswer } from './pages.js';

function isOwn(me: Me, key: KeyView): boolean {
  return me.user !== null && key.owner.type === 'user' && key.owner.id === me.user.id;
}

/** The row actions the caller may take (mirrors admin/keys/key-record.ts keyAuthority; the API decides). */
export function keyActions(
  me: Me,
  key: KeyView,
): { regenerate: boolean; revoke: boolean; delete: boolean; block: 'block' | 'unblock' | null } {
  const own = isOwn(me, key) && canOnTeam(me, 'key.create_self', key.team.id);
  const admin = canOnTeam(me, 'key.update', key.team.id);
  const active = key.status === 'active';
  return {
    regenerate: active && (own || admin),
    revoke: (active || key.status === 'blocked') && (own || canOnTeam(me, 'key.revoke', key.team.id)),
    delete: own || canOnTeam(me, 'key.delete', key.team.id),
    // Key admins block and unblock (a self-service owner cannot); a key blocked through its
    // owner is unblocked by unblocking the user (Users page).
    block: !admin
      ? null
      : active
        ? 'block'
        : key.status === 'blocked' && key.blocked_by !== 'owner'
          ? 'unblock'
          : null,
  };
}

export function Budget(props: { keyView: KeyView }) {
  const k = props.keyView;
  if (k.max_budget === null) return <span class="muted">{usd(k.spend)} · no budget</span>;
  const period = k.budget_period;
  return (
    <div class="budget">
      <span>
        {usd(period === null ? k.spend : k.period_spend)}{' '}
        <span class="muted">
          of {usd(k.max_budget)}
          {period === null ? '' : ` per ${period}`}
        </span>
      </span>
      <meter min={0} max={1} value={k.budget_progress ?? 0} aria-label={`Budget used by ${k.name}`}></meter>
      {period === null || k.period_resets_at === null ? null : (
        <span class="muted">resets {formatTime(k.period_resets_at)}</span>
      )}
    </div>
  );
}

export function KeyStatus(props: { k: KeyView }) {
  const { status, blocked_by } = props.k;
  const label = status === 'blocked' && blocked_by === 'owner' ? 'blocked (owner)' : status;
  return <span class={`status status-${status}`}>{label}</span>;
}

const ACTION_LABELS = { regenerate: 'Regenerate', revoke: 'Revoke', delete: 'Delete' } as const;

/** The buttons of the actions the caller may take on the key (the browser script confirms and runs them). */
export function KeyActionButtons(props: { me: Me; k: KeyView; detail?: boolean }) {
  const { k } = props;
  const actions = keyActions(props.me, k);
  const data = {
    'data-key-id': k.id,
    'data-key-name': k.name,
    'data-after': props.detail ? 'detail' : 'list',
  };
  return (
    <div class="actions">
      {(['regenerate', 'revoke', 'delete'] as const)
        .filter((action) => actions[action])
        .map((action) => (
          <button
            type="button"
            class={action === 'delete' ? 'danger' : undefined}
            data-action={action}
            {...data}
          >
            {ACTION_LABELS[action]}
          </button>
        ))}
      {actions.block === null ? null : (
        <button type="button" data-action={actions.block} {...data}>
          {actions.block === 'block' ? 'Block' : 'Unblock'}
        </button>
      )}
    </div>
  );
}

function Row(props: { me: Me; k: KeyView }) {
  const { me, k } = props;
  return (
    <tr data-key-row={k.id}>
      <td>
        <a href={`/keys/${k.id}`}>{k.name}</a>
      </td>
      <td>
        <code>{k.display}</code>
      </td>
      <td>{k.team.name}</td>
      <td>
        {k.owner.name ?? '—'}
        {k.owner.type === 'service_account' ? <span class="tag">service account</span> : null}
      </td>
      <td>
        <KeyStatus k={k} />
      </td>
      <td>
        <Budget keyView={k} />
      </td>
      {WINDOW_LIMITS.map(([field]) => (
        <td class={k[field] === null ? 'muted' : undefined}>
          {k[field] === null ? 'No limit' : String(k[field])}
        </td>
      ))}
      <td>{formatTime(k.last_used_at)}</td>
      <td>
        <KeyActionButtons me={me} k={k} />
      </td>
    </tr>
  );
}

async function createOptions(ctx: ConsoleContext, c: Context<AdminEnv>, me: Me, teams: TeamView[]) {
  const creatable = teams.filter(
    (t) => canOnTeam(me, 'key.create', t.id) || canOnTeam(me, 'key.create_self', t.id),
  );
  if (creatable.length === 0) return undefined;
  const targets = await apiGet<ListAnswer<TargetView>>(ctx, c, '/v1/targets?limit=1000');
  const groups = await apiGet<ListAnswer<AccessGroupView>>(ctx, c, '/v1/access-groups?limit=1000');
  const options: CreateKeyOptions = {
    me,
    teams: creatable,
    targets: targets.status === 200 ? targets.body.data : [],
    groups: groups.status === 200 ? groups.body.data : [],
  };
  return options;
}

export async function keysPage(ctx: ConsoleContext, c: Context<AdminEnv>, state: PageState) {
  const { me } = state;
  const canReadAll = canAnywhere(me, 'key.read');
  const requested = c.req.query('view');
  const view = !canReadAll ? 'mine' : requested === 'mine' && me.user !== null ? 'mine' : 'all';
  const q = c.req.query('q') ?? '';
  const teamId = c.req.query('team_id') ?? '';
  const status = c.req.query('status') ?? '';
  const params = new URLSearchParams({ view, limit: '1000' });
  if (q !== '') params.set('q', q);
  if (teamId !== '') params.set('team_id', teamId);
  if (status !== '') params.set('status', status);
  const keys = await apiGet<ListAnswer<KeyView>>(ctx, c, `/v1/keys?${params}`);
  const teamsAnswer = await apiGet<ListAnswer<TeamView>>(ctx, c, '/v1/teams?limit=1000');
  const teams = teamsAnswer.status === 200 ? teamsAnswer.body.data : [];
  const create = await createOptions(ctx, c, me, teams);
  const rows = keys.status === 200 ? keys.body.data : [];
  const tab = (name: 'all' | 'mine', label: string) => (
    <a href={`/keys?view=${name}`} class="tab" aria-current={view === name ? 'page' : undefined}>
      {label}
    </a>
  );
  return {
    title: 'API Keys',
    body: (
      <>
        <div class="page-head">
          <div>
            <h1>
              API Keys{' '}
              <span class="count" data-testid="key-count" aria-label={`${rows.length} keys`}>
                {rows.length}
              </span>
            </h1>
            <p class="muted">Issue keys for applications and people, with budgets and rate limits.</p>
          </div>
          {create === undefined ? null : (
            <button type="button" class="primary" data-open-dialog="create-key-dialog">
              + Create Key
            </button>
          )}
        </div>
        <nav class="tabs" aria-label="Key views">
          {canReadAll ? tab('all', 'All Keys') : null}
          {me.user !== null ? tab('mine', 'My Keys') : null}
        </nav>
        <form method="get" action="/keys" class="filters" role="search">
          <input type="hidden" name="view" value={view} />
          <label for="filter-q">Search keys</label>
          <input id="filter-q" name="q" type="search" value={q} placeholder="Name or token" />
          <label for="filter-team">Team</label>
          <select id="filter-team" name="team_id">
            <option value="">All teams</option>
            {teams.map((t) => (
              <option value={t.id} selected={t.id === teamId}>
                {t.name}
              </option>
            ))}
          </select>
          <label for="filter-status">Status</label>
          <select id="filter-status" name="status">
            <option value="">Any status</option>
            <option value="active" selected={status === 'active'}>
              active
            </option>
            <option value="blocked" selected={status === 'blocked'}>
              blocked
            </option>
            <option value="revoked" selected={status === 'revoked'}>
              revoked
            </option>
          </select>
          <button type="submit">Filter</button>
        </form>
        {keys.status !== 200 ? (
          <Unavailable what="The key list" status={keys.status} />
        ) : (
          <DataTable
            label="Keys table"
            columns={[
              'Name',
              'Token',
              'Team',
              'Owner',
              'Status',
              'Budget',
              ...WINDOW_LIMITS.map(([, l]) => l),
              'Last used',
              'Actions',
            ]}
          >
            {rows.length === 0 ? (
              <tr>
                <td colspan={13} class="muted">
                  No keys match.
                </td>
              </tr>
            ) : (
              rows.map((k) => <Row me={me} k={k} />)
            )}
          </DataTable>
        )}
        {create === undefined ? null : <CreateKeyDialog options={create} />}
        <SecretDialog />
        <ConfirmDialog />
      </>
    ),
  };
}
