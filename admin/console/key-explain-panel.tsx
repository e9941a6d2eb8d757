/**
 * "Why refused" on the key detail page: a GET form choosing a model, and the answer of
 * `GET /v1/keys/:id/explain?model=` rendered check by check in the gateway's order, each with
 * its verdict and numbers (docs/api.md "Explain"). The console adds no rule of its own.
 */
import { usd } from './pages.js';

export interface ExplainCheck {
  check: string;
  verdict: 'pass' | 'fail' | 'shadow_fail';
  [field: string]: unknown;
}

export interface Explanation {
  model: string;
  verdict: 'admit' | 'refuse';
  refused_by: { check: string; code: string; param: string | null } | null;
  checks: ExplainCheck[];
  override: string | null;
  gateways: { gateway: string; ok: boolean; error?: string }[];
  at: string;
}

interface Binding {
  scope: string;
  mode: string;
  allows: boolean;
  via: string | null;
  access_groups?: string[];
}

const VERDICT = { pass: 'pass', fail: 'fail', shadow_fail: 'over (shadow)' } as const;
const time = (v: unknown) => (typeof v === 'string' ? v.replace('T', ' ').slice(0, 19) + ' UTC' : 'never');
const num = (v: unknown) => (typeof v === 'number' ? v.toLocaleString('en-US') : '—');
const money = (v: unknown) => usd(typeof v === 'number' ? v : null);

/** The numbers of one check, as one line of text. */
export function checkDetails(c: ExplainCheck): string {
  const shadow = c.mode === 'shadow' ? ' · shadow limit' : '';
  switch (c.check) {
    case 'status':
      return `status ${String(c.status)}`;
    case 'expiry':
      return c.expires_at === null ? 'never expires' : `expires ${time(c.expires_at)}`;
    case 'target_exists':
      return c.verdict === 'pass' ? 'the model is a target' : 'no target has this name';
    case 'allowed':
      return ((c.bindings as Binding[] | undefined) ?? [])
        .map((b) => {
          const via = b.via === 'access_group' ? `access group ${(b.access_groups ?? []).join(', ')}` : b.via;
          return `${b.scope}: ${b.mode}${b.allows ? ` (via ${via})` : ' (not allowed)'}`;
        })
        .join('; ');
    case 'budget':
      return (
        `${String(c.param)}: spent ${money(c.spent)} + reserved ${money(c.reserved)} of ${money(c.limit)}` +
        `, ${money(c.remaining)} left` +
        (c.period === null ? ' (lifetime)' : ` per ${String(c.period)}, resets ${time(c.period_resets_at)}`) +
        shadow
      );
    case 'window':
      return (
        `${String(c.param)}: ${num(c.used)} used of ${num(c.limit)}, ${num(c.remaining)} left, ` +
        `resets ${time(c.reset_at)}${shadow}`
      );
    case 'parallel':
      return `${String(c.param)}: ${num(c.in_flight)} in flight of ${num(c.limit)}${shadow}`;
    default:
      return '';
  }
}

export function ExplainForm(props: { models: string[]; model: string }) {
  return (
    <form method="get" action="#why-refused" class="filters" role="search" aria-label="Explain for a model">
      <label for="explain-model">Model</label>
      <select id="explain-model" name="model">
        {props.models.map((m) => (
          <option value={m} selected={m === props.model}>
            {m}
          </option>
        ))}
      </select>
      <button type="submit">Explain</button>
    </form>
  );
}

export function ExplainResult(props: { e: Explanation }) {
  const { e } = props;
  const down = e.gateways.filter((g) => !g.ok);
  return (
    <section aria-label="Explanation" data-testid="explain">
      <p>
        <strong class={`status status-${e.verdict === 'admit' ? 'active' : 'revoked'}`}>
          {e.verdict === 'admit' ? 'Admitted' : 'Refused'}
        </strong>{' '}
        for <code>{e.model}</code> at {time(e.at)}
        {e.refused_by === null
          ? ''
          : ` by the ${e.refused_by.check} check: ${e.refused_by.code}` +
            (e.refused_by.param === null ? '' : ` (param ${e.refused_by.param})`)}
        {e.override === null ? '' : ` · override ${e.override} applies`}
      </p>
      <table class="explain">
        <caption>Checks in the gateway's order</caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Check</th>
            <th scope="col">Verdict</th>
            <th scope="col">Numbers</th>
          </tr>
        </thead>
        <tbody>
          {e.checks.map((c, i) => (
            <tr data-check={c.check} data-verdict={c.verdict}>
              <td>{i + 1}</td>
              <th scope="row">{c.check}</th>
              <td class={`verdict verdict-${c.verdict}`}>{VERDICT[c.verdict]}</td>
              <td>{checkDetails(c)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {down.length === 0 ? null : (
        <p class="muted">
          Live counters missing from: {down.map((g) => `${g.gateway} (${g.error ?? 'no answer'})`).join(', ')}
        </p>
      )}
    </section>
  );
}
