/**
 * Which headers cross the gateway, both ways, by allow-list (issue 10, items 5 and 6). The
 * upstream is called with the operator's credential, so nothing the client sends may steer it
 * (`OpenAI-Organization`, `OpenAI-Project`, `X-Forwarded-*`, cookies, hop-by-hop headers); and the
 * upstream's answer may not set cookies, challenge for credentials, reveal the operator's
 * organization or report the provider's own rate limits as if they were the key's.
 *
 * Request: `REQUEST_ALLOWED` plus the operator's extra names (KEYGATE_FORWARD_HEADERS, exact
 * names or `prefix*`), never a header of `NEVER_FORWARDED` nor one named in `Connection`.
 * Response: `RESPONSE_ALLOWED` only; the upstream's `x-request-id` is renamed
 * `x-upstream-request-id`. keygate's own headers (x-request-id, x-ratelimit-*) are added after.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** Plain header objects keep @hono/node-server on its fast path (no web Headers built). */
export type PlainHeaders = Record<string, string | string[]>;

/** Client headers forwarded to the upstream (docs/api.md "Headers"). */
export const REQUEST_ALLOWED: readonly string[] = [
  'accept',
  'accept-language',
  'user-agent',
  'openai-beta',
  'idempotency-key',
  'x-stainless-*',
];

/** Never forwarded, whatever KEYGATE_FORWARD_HEADERS says. */
export const NEVER_FORWARDED: readonly string[] = [
  'authorization',
  'x-api-key',
  'proxy-authorization',
  'cookie',
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'accept-encoding',
  'x-request-id',
  'openai-organization',
  'openai-project',
  'forwarded',
  'x-forwarded-*',
  'x-real-ip',
];

/** Upstream response headers passed to the client (docs/api.md "Headers"). */
export const RESPONSE_ALLOWED: readonly string[] = [
  'content-type',
  'content-encoding',
  'cache-control',
  'openai-processing-ms',
  'openai-version',
  'retry-after',
  'retry-after-ms',
];

/** A set of exact names and `prefix*` patterns, lower-case. */
export class HeaderNames {
  private readonly exact: Set<string>;
  private readonly prefixes: string[];

  constructor(patterns: readonly string[]) {
    const lower = patterns.map((p) => p.trim().toLowerCase()).filter((p) => p !== '');
    this.exact = new Set(lower.filter((p) => !p.endsWith('*')));
    this.prefixes = lower.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  }

  has(name: string): boolean {
    if (this.exact.has(name)) return true;
    for (const prefix of this.prefixes) if (name.startsWith(prefix)) return true;
    return false;
  }
}

/** The request-side filter, built once per gateway from the configured extra names. */
export class RequestHeaderFilter {
  private readonly allowed: HeaderNames;
  private readonly never = new HeaderNames(NEVER_FORWARDED);

  constructor(extra: readonly string[] = []) {
    this.allowed = new HeaderNames([...REQUEST_ALLOWED, ...extra]);
  }

  /** The client's headers that may reach the upstream (Node's header object or web Headers). */
  pick(sent: IncomingHttpHeaders | Headers): PlainHeaders {
    const out: PlainHeaders = {};
    const named = connectionNamed(sent instanceof Headers ? sent.get('connection') : sent.connection);
    const take = (name: string, value: string | string[]): void => {
      if (this.allowed.has(name) && !this.never.has(name) && named?.has(name) !== true) out[name] = value;
    };
    if (sent instanceof Headers) for (const [name, value] of sent) take(name, value);
    else
      for (const name in sent) {
        const value = sent[name];
        if (value !== undefined) take(name, value);
      }
    return out;
  }
}

const RESPONSE = new HeaderNames(RESPONSE_ALLOWED);

/** The header names a `Connection` value lists, if it lists any beyond keep-alive / close. */
function connectionNamed(value: string | null | undefined): HeaderNames | undefined {
  if (!value) return undefined;
  const lower = value.toLowerCase();
  if (lower === 'keep-alive' || lower === 'close') return undefined;
  return new HeaderNames(lower.split(','));
}

/** The upstream's headers the client may see, then keygate's own (`extra`) on top. */
export function responseHeaders(
  upstream: Record<string, string | string[] | undefined>,
  extra: Record<string, string>,
): PlainHeaders {
  const out: PlainHeaders = {};
  const connection = upstream.connection;
  const named = connectionNamed(typeof connection === 'string' ? connection : undefined);
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || !RESPONSE.has(name) || named?.has(name) === true) continue;
    out[name] = value;
  }
  const upstreamId = upstream['x-request-id'];
  if (typeof upstreamId === 'string') out['x-upstream-request-id'] = upstreamId;
  for (const name in extra) out[name] = extra[name]!;
  return out;
}
