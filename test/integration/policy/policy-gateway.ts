/**
 * The shared gateway harness (test/helpers/gateway-harness.ts) with the admission of
 * gateway/main.ts: LimitsAdmission over a PeriodSpendStore on a ManualClock, for the issue 14
 * limits over HTTP. Keys get limits per scope; a target whose credential lookup throws
 * (`exploding`) exercises the release path.
 */
import { PeriodSpendStore } from '../../../src/budget/period-spend-store.js';
import { ManualClock } from '../../../src/clock.js';
import { hashSecret } from '../../../src/keys/secret.js';
import { NO_LIMITS, type Limits } from '../../../src/policy/limits.js';
import type { ResolvedKeyPolicy } from '../../../src/policy/resolved-policy.js';
import { LimitsAdmission } from '../../../src/ratelimit/limits-admission.js';
import { targetRoute } from '../../helpers/gateway-fixtures.js';
import { startHarness, type Harness } from '../../helpers/gateway-harness.js';

export interface PolicyGateway extends Pick<
  Harness,
  'url' | 'clock' | 'source' | 'metrics' | 'usage' | 'tokens' | 'close'
> {
  admission: LimitsAdmission;
  /** A fresh key; `key`, `team` give limits of those scopes (merged over no limits). */
  newKey(options?: {
    key?: Partial<Limits>;
    team?: Partial<Limits>;
    teamId?: string;
    policy?: Partial<ResolvedKeyPolicy>;
  }): { secret: string; hash: string };
  call(
    secret: string,
    model?: string,
    init?: { headers?: Record<string, string>; signal?: AbortSignal },
  ): Promise<Response>;
}

export async function startPolicyGateway(startMs: number, internalSecret?: string): Promise<PolicyGateway> {
  const clock = new ManualClock(startMs);
  const spend = new PeriodSpendStore(clock);
  const admission = new LimitsAdmission({ clock, spend });
  const h = await startHarness({
    clock,
    admission,
    onLoaded: (policy) => spend.observe(policy),
    // Tests move the clock by days; a loaded key stays cached (some count the loads).
    cacheTtlMs: 60 * 86_400_000,
    chunks: 3,
    ...(internalSecret === undefined ? {} : { internalSecret }),
    // Never contacted: its credential lookup throws first.
    extraTargets: [targetRoute('exploding', 'http://127.0.0.1:9/v1', { apiKeyEnv: 'EXPLODE' })],
    deps: (deps) => ({
      ...deps,
      credential: (name) => {
        if (name === 'EXPLODE') throw new Error('injected: credential lookup failed');
        return deps.credential(name);
      },
      limits: { ...deps.limits, maxOutputTokens: 100_000 },
      liveCounters: (policy) => admission.liveCounters(policy),
      onError: () => undefined,
    }),
  });
  return {
    url: h.url,
    clock,
    source: h.source,
    metrics: h.metrics,
    usage: h.usage,
    tokens: h.tokens,
    admission,
    close: () => h.close(),
    newKey(options = {}) {
      const secret = h.newKey();
      const hash = hashSecret(secret);
      const base = h.source.policies.get(hash)!;
      h.source.policies.set(hash, {
        ...base,
        key: { ...base.key, limits: { ...NO_LIMITS, ...options.key } },
        team: { ...base.team, id: options.teamId ?? base.team.id, limits: { ...NO_LIMITS, ...options.team } },
        ...options.policy,
      });
      return { secret, hash };
    },
    call(secret, model = 'plain', init = {}) {
      return fetch(`${h.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', ...init.headers },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 9 }),
        signal: init.signal,
      });
    },
  };
}

/** The error code and param of a refusal (and the body consumed). */
export async function refusalOf(
  response: Response,
): Promise<{ status: number; code?: string; param?: string | null }> {
  const body = (await response.json()) as { error?: { code: string; param: string | null } };
  return { status: response.status, code: body.error?.code, param: body.error?.param };
}
