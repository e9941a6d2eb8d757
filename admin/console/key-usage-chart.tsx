/**
 * The key detail page's usage chart: requests, tokens and spend per UTC hour (the last 24 hours)
 * or per UTC day, from `GET /v1/usage?key_id=&group_by=hour|day` — server-rendered meters, no
 * chart library.
 */
import { usd } from './pages.js';

export interface UsageBucket {
  hour?: string;
  day?: string;
  requests: number;
  total_tokens: number;
  spend: number;
}

export type UsageGrain = 'hour' | 'day';

const CAPTION = { hour: 'Usage per hour, last 24 hours (UTC)', day: 'Usage per day (UTC)' } as const;

function bucketLabel(grain: UsageGrain, bucket: UsageBucket): string {
  if (grain === 'day') return bucket.day ?? '';
  return (bucket.hour ?? '').replace('T', ' ').slice(0, 16);
}

function Bar(props: { value: number; max: number; label: string; text: string }) {
  return (
    <>
      <meter min={0} max={props.max} value={props.value} aria-label={props.label}></meter> {props.text}
    </>
  );
}

export function UsageChart(props: { grain: UsageGrain; buckets: UsageBucket[] }) {
  const { grain, buckets } = props;
  if (buckets.length === 0) {
    return (
      <p class="muted" data-testid={`usage-${grain}`}>
        No usage reported {grain === 'hour' ? 'in the last 24 hours' : 'yet'}.
      </p>
    );
  }
  const max = (pick: (b: UsageBucket) => number) => Math.max(Number.EPSILON, ...buckets.map(pick));
  const maxRequests = max((b) => b.requests);
  const maxTokens = max((b) => b.total_tokens);
  const maxSpend = max((b) => b.spend);
  return (
    <table class="usage" data-testid={`usage-${grain}`}>
      <caption>{CAPTION[grain]}</caption>
      <thead>
        <tr>
          <th scope="col">{grain === 'hour' ? 'Hour' : 'Day'}</th>
          <th scope="col">Requests</th>
          <th scope="col">Tokens</th>
          <th scope="col">Spend</th>
        </tr>
      </thead>
      <tbody>
        {buckets.map((b) => {
          const at = bucketLabel(grain, b);
          return (
            <tr>
              <th scope="row">{at}</th>
              <td>
                <Bar
                  value={b.requests}
                  max={maxRequests}
                  label={`Requests at ${at}`}
                  text={String(b.requests)}
                />
              </td>
              <td>
                <Bar
                  value={b.total_tokens}
                  max={maxTokens}
                  label={`Tokens at ${at}`}
                  text={String(b.total_tokens)}
                />
              </td>
              <td>
                <Bar value={b.spend} max={maxSpend} label={`Spend at ${at}`} text={usd(b.spend)} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
