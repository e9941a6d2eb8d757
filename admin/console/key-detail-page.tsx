/**
 * Key detail (`GET /keys/:id`): the key's fields and limits, usage per hour (last 24 h) and per
 * day (requests, tokens, spend from `GET /v1/usage?key_id=&group_by=hour|day`), "why refused"
 * for a chosen model (`?model=` → `GET /v1/keys/:id/explain`), and the key's audit entries
 * (`GET /v1/audit`, when the caller may read the audit log).
 */
import type { Context } from 'hono';
import type { AdminEnv } from '../context.js';
import { apiGet, type ConsoleContext, type PageState } from './console-context.js';
import { ConfirmDialog, SecretDialog } from './key-action-dialogs.js';
import { ExplainForm, ExplainResult, type Explanation } from './key-explain-panel.js';
import { WINDOW_LIMITS, type KeyView, type TargetView } from './key-types.js';
import { UsageChart, type UsageBucket } from './key-usage-chart.js';
import { Budget, KeyActionButtons, KeyStatus } from './keys-page.js';
import { Unavailable } from './layout.js';
import { formatTime, type ListAnswer } from './pages.js';

interface AuditEntry {
  id: string;
  at: string;
  actor: { type: string; id: string | null };
  via: string;
  action: string;
}

export async function keyDetailPage(ctx: ConsoleContext, c: Context<AdminEnv>, state: PageState) {
  const id = encodeURIComponent(c.req.param('id') ?? '');
  const key = await apiGet<KeyView>(ctx, c, `/v1/keys/${id}`);
  if (key.status !== 200) {
    return { title: 'Key', body: <Unavailable what="This key" status={key.status} /> };
  }
  const k = key.body;
  const hourAgo = Math.floor(ctx.deps.clock.now() / 3_600_000) * 3_600_000 - 23 * 3_600_000;
  const since = new Date(hourAgo).toISOString();
  const hourly = await apiGet<{ data: UsageBucket[] }>(
    ctx,
    c,
    `/v1/usage?key_id=${id}&group_by=hour&since=${encodeURIComponent(since)}`,
  );
  const daily = await apiGet<{ data: UsageBucket[] }>(ctx, c, `/v1/usage?key_id=${id}&group_by=day`);
  const targets = await apiGet<ListAnswer<TargetView>>(ctx, c, '/v1/targets?limit=1000');
  const models = [
    ...new Set([
      ...k.effective_targets,
      ...(targets.status === 200 ? targets.body.data.map((t) => t.name) : []),
    ]),
  ];
  const model = c.req.query('model') ?? '';
  const explain =
    model === ''
      ? undefined
      : await apiGet<Explanation>(ctx, c, `/v1/keys/${id}/explain?model=${encodeURIComponent(model)}`);
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
          <dt>Parallel requests</dt>
          <dd>{k.max_parallel_requests === null ? 'No limit' : String(k.max_parallel_requests)}</dd>
        </dl>
        <h2>Usage</h2>
        {hourly.status === 200 ? (
          <UsageChart grain="hour" buckets={hourly.body.data} />
        ) : (
          <Unavailable what="Usage per hour" status={hourly.status} />
        )}
        {daily.status === 200 ? (
          <UsageChart grain="day" buckets={daily.body.data} />
        ) : (
          <Unavailable what="Usage per day" status={daily.status} />
        )}
        <h2 id="why-refused">Why refused</h2>
        <p class="muted">
          Every check the gateway makes for this key and a model, in order, with live counters.
        </p>
        <ExplainForm models={models} model={model} />
        {explain === undefined ? null : explain.status === 200 ? (
          <ExplainResult e={explain.body} />
        ) : (
          <Unavailable what="The explanation" status={explain.status} />
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
        <SecretDialog />
        <ConfirmDialog />
      </>
    ),
  };
}
