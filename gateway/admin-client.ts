/**
 * The gateway's client of the admin plane's internal API (docs/api.md "Internal API"): key
 * policies (KeySource), the change feed (ChangeFeed), the target catalog (TargetSource) and usage
 * reports (UsageSink), over one
 * keep-alive undici Pool, each call signed with a short-lived internal token. Loaded policies
 * share their common parts (team, org, limits, target list) through a PolicyInterner.
 */
import { Pool, type Dispatcher } from 'undici';
import type { RecentKeysPage } from '../src/cache/key-preloader.js';
import type { KeySource } from '../src/cache/key-source.js';
import { PolicyInterner } from '../src/cache/policy-interner.js';
import type { Clock } from '../src/clock.js';
import type { ChangeFeed } from '../src/invalidation/change-follower.js';
import type { Change, ChangePage } from '../src/invalidation/change.js';
import { InternalTokens } from '../src/invalidation/internal-token.js';
import type { ResolvedKeyPolicy, TargetRoute } from '../src/policy/resolved-policy.js';
import { usageReportJson, type UsageReport } from '../src/usage/usage-report.js';
import type { UsageSink } from './usage/usage-reporter.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { MAX_REFUSAL_BODY, refusedForGood, UsageRefusedError } from './usage/usage-refusal.js';

/** `GET /internal/targets`: the catalog, the change-log head it was read at and the change there. */
export interface TargetSource {
  targets(): Promise<{ seq: number; last?: Change | null; targets: TargetRoute[] }>;
}

export class AdminUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AdminUnavailableError';
  }
}

export interface AdminClientOptions {
  adminUrl: string;
  internalSecret: string;
  gatewayId: string;
  /** Stamps `lastContactAt`: the gateway's own clock, which readiness compares it with. */
  clock: Clock;
  /** Per-call timeout (headers and body), default 5 s. */
  timeoutMs?: number;
  /** Timeout of one key load, queueing included (default 1000 ms): uncached keys fail fast. */
  loadTimeoutMs?: number;
}

export class AdminClient implements KeySource, ChangeFeed, TargetSource, UsageSink {
  private readonly pool: Pool;
  private readonly tokens: InternalTokens;
  private readonly basePath: string;
  private readonly gatewayQuery: string;
  private readonly timeoutMs: number;
  private readonly clock: Clock;
  /** Shares team, org, limits and target lists between the cached policies (memory per key). */
  private readonly interner = new PolicyInterner();
  /** Epoch ms of the last answer from the admin plane (any status). */
  lastContactAt = 0;
  /** Key loads go through it: a hung admin plane opens it, and loads then fail at once. */
  readonly breaker: CircuitBreaker;
  private readonly loadTimeoutMs: number;

  constructor(options: AdminClientOptions) {
    const url = new URL(options.adminUrl);
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.clock = options.clock;
    this.loadTimeoutMs = options.loadTimeoutMs ?? 1000;
    this.breaker = new CircuitBreaker({ clock: options.clock });
    this.pool = new Pool(url.origin, {
      connections: 16,
      keepAliveTimeout: 30_000,
      connectTimeout: Math.min(this.timeoutMs, 2000),
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
    this.tokens = new InternalTokens(options.internalSecret);
    this.gatewayQuery = `gateway_id=${encodeURIComponent(options.gatewayId)}`;
  }

  async load(tokenHash: string): Promise<ResolvedKeyPolicy | null> {
    if (!/^[0-9a-f]{64}$/.test(tokenHash)) return null;
    const { status, body } = await this.breaker.run(async () => {
      const path = `/internal/keys/${tokenHash}?${this.gatewayQuery}`;
      const answer = await this.call('GET', path, undefined, this.loadTimeoutMs);
      if (answer.status !== 200 && answer.status !== 404) {
        throw new AdminUnavailableError(`GET /internal/keys answered ${answer.status}`);
      }
      return answer;
    });
    if (status === 404) return null;
    return this.interner.intern(body as ResolvedKeyPolicy, tokenHash);
  }

  /** Many hashes in one call (`POST /internal/keys`): one policy or null per hash, in order. */
  async loadMany(tokenHashes: readonly string[]): Promise<(ResolvedKeyPolicy | null)[]> {
    // Key loads (one or a batch) go through the breaker with the short load timeout (issue 13).
    const { body } = await this.breaker.run(async () => {
      const path = `/internal/keys?${this.gatewayQuery}`;
      const payload = JSON.stringify({ hashes: tokenHashes });
      const answer = await this.call('POST', path, payload, this.loadTimeoutMs);
      if (answer.status !== 200)
        throw new AdminUnavailableError(`POST /internal/keys answered ${answer.status}`);
      return answer;
    });
    const { policies } = body as { policies: (ResolvedKeyPolicy | null)[] };
    return policies.map((policy, i) =>
      policy === null ? null : this.interner.intern(policy, tokenHashes[i]),
    );
  }

  /**
   * A page of the keys used most recently (`GET /internal/keys`), for the warm start. The admin
   * plane sends the next page's cursor in the `x-keygate-next` header (`none` at the end), so it is
   * known before the policies have arrived and been parsed (the preloader asks for the next page
   * meanwhile); from an admin plane without the header, it is read from the body.
   */
  async recentKeys(after: string | null, limit: number): Promise<RecentKeysPage> {
    const cursor = after === null ? '' : `&after=${encodeURIComponent(after)}`;
    const response = await this.send('GET', `/internal/keys?${this.gatewayQuery}&limit=${limit}${cursor}`);
    const answer = this.read(response).then(({ status, body }) => {
      if (status !== 200) throw new AdminUnavailableError(`GET /internal/keys answered ${status}`);
      const page = body as { policies: ResolvedKeyPolicy[]; next: string | null };
      for (const policy of page.policies) this.interner.intern(policy);
      return page;
    });
    const header = response.statusCode === 200 ? response.headers['x-keygate-next'] : undefined;
    if (typeof header === 'string')
      return { next: header === 'none' ? null : header, policies: answer.then((page) => page.policies) };
    return answer;
  }

  async changesAfter(seq: number, limit: number): Promise<ChangePage> {
    const { status, body } = await this.call('GET', `/internal/changes?after=${seq}&limit=${limit}`);
    if (status !== 200) throw new AdminUnavailableError(`GET /internal/changes answered ${status}`);
    return body as ChangePage;
  }

  async targets(): Promise<{ seq: number; last?: Change | null; targets: TargetRoute[] }> {
    const { status, body } = await this.call('GET', '/internal/targets');
    if (status !== 200) throw new AdminUnavailableError(`GET /internal/targets answered ${status}`);
    return body as { seq: number; last?: Change | null; targets: TargetRoute[] };
  }

  async postUsage(report: UsageReport): Promise<{ applied: boolean }> {
    const { status, body, text } = await this.call('POST', '/internal/usage', usageReportJson(report));
    // A refusal for good (a 4xx retrying cannot change) is told apart: the reporter sets the
    // batch aside; anything else is retried in order.
    if (refusedForGood(status)) throw new UsageRefusedError(status, text.slice(0, MAX_REFUSAL_BODY));
    if (status !== 200) throw new AdminUnavailableError(`POST /internal/usage answered ${status}`);
    // A 200 without `applied` is no admin plane (a KEYGATE_ADMIN_URL pointing elsewhere): taken as
    // applied, the reporter dropped the batch and the replay removed its file, usage lost silently.
    const applied = (body as { applied?: unknown } | null)?.applied;
    if (typeof applied !== 'boolean')
      throw new AdminUnavailableError('POST /internal/usage answered 200 without a boolean `applied`');
    return { applied };
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  private async call(
    method: 'GET' | 'POST',
    path: string,
    payload?: string,
    timeoutMs?: number,
  ): Promise<{ status: number; body: unknown; text: string }> {
    if (timeoutMs === undefined) return this.read(await this.send(method, path, payload));
    // One timer for the whole call (queueing, headers and body), cleared when the answer is read:
    // AbortSignal.timeout's timer outlived every call and fired later, building an abort event
    // and a DOMException per key batch on a busy gateway (issue 15).
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(timeoutReason()), timeoutMs);
    try {
      return await this.read(await this.send(method, path, payload, controller.signal));
    } finally {
      clearTimeout(timer);
    }
  }

  /** The answer's status and headers (its body still to read, with `read`). */
  private async send(
    method: 'GET' | 'POST',
    path: string,
    payload?: string,
    signal?: AbortSignal,
  ): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = { authorization: await this.tokens.authorizationHeader() };
    if (payload !== undefined) headers['content-type'] = 'application/json';
    let response;
    try {
      response = await this.pool.request({
        method,
        path: this.basePath + path,
        headers,
        body: payload,
        signal,
      });
    } catch (error) {
      throw new AdminUnavailableError(`admin plane unreachable: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.lastContactAt = this.clock.now();
    return response;
  }

  /** The body of an answer: parsed JSON when 200, nothing otherwise; its text either way. */
  private async read(
    response: Dispatcher.ResponseData,
  ): Promise<{ status: number; body: unknown; text: string }> {
    let text: string;
    try {
      text = await response.body.text(); // a call's timeout signal bounds this read too
    } catch (error) {
      throw new AdminUnavailableError(`admin plane answer cut: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (response.statusCode !== 200) return { status: response.statusCode, body: undefined, text };
    try {
      return { status: 200, body: JSON.parse(text) as unknown, text };
    } catch (error) {
      throw new AdminUnavailableError('admin plane answered invalid JSON', { cause: error });
    }
  }
}

/** The reason AbortSignal.timeout aborts with (built only when a call does time out). */
function timeoutReason(): DOMException {
  return new DOMException('The operation was aborted due to timeout', 'TimeoutError');
}
