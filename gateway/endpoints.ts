/**
 * The four proxied endpoints, in one table: the path the client calls (POST, exact, a query
 * string is ignored), the suffix appended to the target's base URL, and whether a streamed answer
 * can carry usage when asked for it (`stream_options.include_usage`).
 */
export interface Endpoint {
  readonly path: string;
  readonly upstreamSuffix: string;
  readonly streamUsage: boolean;
}

export const ENDPOINTS: readonly Endpoint[] = [
  { path: '/v1/chat/completions', upstreamSuffix: '/chat/completions', streamUsage: true },
  { path: '/v1/completions', upstreamSuffix: '/completions', streamUsage: true },
  { path: '/v1/embeddings', upstreamSuffix: '/embeddings', streamUsage: false },
  { path: '/v1/responses', upstreamSuffix: '/responses', streamUsage: false },
];

const BY_PATH = new Map(ENDPOINTS.map((endpoint) => [endpoint.path, endpoint]));

/** The endpoint of a request URL (`/v1/chat/completions?x=1` → chat), or undefined. */
export function endpointOf(url: string): Endpoint | undefined {
  const query = url.indexOf('?');
  return BY_PATH.get(query < 0 ? url : url.slice(0, query));
}
