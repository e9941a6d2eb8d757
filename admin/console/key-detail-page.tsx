/**
 * Key detail (`GET /keys/:id`): the key's fields and limits, usage per day (requests, tokens,
 * spend from `GET /v1/usage?key_id=&group_by=day`; the admin plane aggregates usage per day
 * only, so there is no per-hour view), and the key's audit entries (`GET /v1/audit`, when the
 * caller may read the audit log).
 */
import type { Context } from 'hono';
import type { AdminEnv } from '../context.js';
import type { AuditEntry } from './audit-page.js';
import { apiGet, type ConsoleContext, type PageState } from './console-context.js';
import { ConfirmDialog, SecretDialog } from './key-action-dialogs.js';
import { WINDOW_LIMITS, type KeyView } from './key-types.js';
import { Budget, KeyActionButtons, KeyStatus } from './keys-page.js';
import { Unavailable } from './layout.js';
import { formatTime, usd, type ListAnswer } from './pages.js';

interface UsageDay {
  day: string;
  requests: number;
  total_tokens: number;
  spend: number;
}

function UsageChart(props: { days: UsageDay[] }) {
  const maxRequests = Math.max(1, ...props.days.map((d) => d.requests));
  const maxTokens = Math.max(1, ...props.days.map((d) => d.total_tokens));
  if (props.days.length === 0) return <p class="muted">No usage reported yet.</p>;
  return (
    <table class="usage">
      <caption>Usage per day (UTC)</caption>
      <thead>
        <tr>
          <th scope="col">Day</th>
          <th scope="col">Requests</th>
          <th scope="col">Tokens</th>
          <th scope="col">Spend</th>
        </tr>
      </thead>
      <tbody>
        {props.days.map((d) => (
          <tr>
            <th scope="row">{d.day}</th>
            <td>
              <meter min={0} max={maxRequests} value={d.requests} aria-label={`Requests on ${d.day}`}></meter>{' '}
              {d.requests}
            </td>
            <td>
              <meter min={0} max={maxTokens} value={d.total_tokens} aria-label={`Tokens on ${d.day}`}></meter>{' '}
              {d.total_tokens}
            </td>
            <td>{usd(d.spend)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export async function keyDetailPage(ctx: ConsoleContext, c: Context<AdminEnv>, state: PageState) {
  const id = encodeURIComponent(c.req.param('id') ?? '');
  const key = await apiGet<KeyView>(ctx, c, `/v1/keys/${id}`);
  if (key.status !== 200) {
    return { title: 'Key', body: <Unavailable what="This key" status={key.status} /> };
  }
  const k = key.body;
  const usage = await apiGet<{ data: UsageDay[] }>(ctx, c, `/v1/usage?key_id=${id}&group_by=day`);
  const audit = await apiGet<ListAnswer<AuditEntry>>(ctx, c, `/v1/audit?entity_type=key&entity_id=${id}`);
  return {
    title: k.name,
    body: (
      <>
        <p class="crumbs">
          <a href="/keys">API Keys</a> › {k.name}
        </p>
        <div class="page-head">
          <h1>{k.name}</h1>
          <KeyActionButtons me={state.me} k={k} detail />
        </div>
        <dl class="facts">
          <dt>Token</dt>
          <dd>
            <code>{k.display}</code>
          </dd>
          <dt>Status</dt>
          <dd>
            <KeyStatus k={k} />
          </dd>
          <dt>Team</dt>
          <dd>{k.team.name}</dd>
          <dt>Owner</dt>
          <dd>
            {k.owner.name ?? '—'} ({k.owner.type === 'user' ? 'user' : 'service account'})
          </dd>
          <dt>Budget</dt>
          <dd>
            <Budget keyView={k} />
          </dd>
          <dt>Expires</dt>
          <dd>{k.expires_at === null ? 'Never' : formatTime(k.expires_at)}</dd>
          <dt>Asset access</dt>
          <dd>
            {k.access.mode === 'inherit' ? 'Inherits the team set' : 'Restricted'}:{' '}
            {k.effective_targets.join(', ') || 'no targets'}
          </dd>
          <dt>Last used</dt>
          <dd>{formatTime(k.last_used_at)}</dd>
        </dl>
        <h2>Limits</h2>
        <dl class="facts limits">
          {WINDOW_LIMITS.map(([field, label]) => (
            <>
              <dt>{label}</dt>
              <dd>{k[field] === null ? 'No limit' : String(k[field])}</dd>
            </>
          ))}
        </dl>
        <h2>Usage</h2>
        {usage.status === 200 ? (
          <UsageChart days={usage.body.data} />
        ) : (
          <Unavailable what="Usage" status={usage.status} />
        )}
        <h2>Audit entries</h2>
        {audit.status !== 200 ? (
          <Unavailable what="The audit log" status={audit.status} />
        ) : (
          <ul class="audit">
            {audit.body.data.map((e) => (
              <li>
                <time>{formatTime(e.at)}</time> <strong>{e.action}</strong> by {e.actor.type}
                {e.actor.id === null ? '' : ` ${e.actor.id}`} ({e.via})
              </li>
            ))}
          </ul>
        )}
        <p class="muted">
          “Why refused” for a chosen model is not shown: the admin API has no explain endpoint yet.
        </p>
        <SecretDialog />
        <ConfirmDialog />
      </>
    ),
  };
}
