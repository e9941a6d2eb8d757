/**
 * `REDIS_URL` forms (README "Running several gateways"):
 * - `redis://[user:password@]host:port[/db]` or `rediss://...` (TLS): one server (or a primary);
 * - `redis+cluster://[user:password@]host:port[,host:port...]` (or `rediss+cluster://`): Redis
 *   Cluster, the listed nodes are the seeds from which the client discovers the others;
 * - a comma-separated list of `redis://` URLs: Redis Cluster too, one seed per URL (credentials
 *   and TLS taken from the first).
 */
export interface RedisNode {
  host: string;
  port: number;
}

export type RedisTarget =
  | { mode: 'single'; url: string }
  | {
      mode: 'cluster';
      nodes: RedisNode[];
      username: string | undefined;
      password: string | undefined;
      tls: boolean;
    };

const DEFAULT_PORT = 6379;

/** The parsed target, or a problem sentence for the configuration error. */
export function parseRedisUrl(raw: string): RedisTarget | { problem: string } {
  const bad = (why: string) => ({ problem: `REDIS_URL ${why} (got "${raw}")` });
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) return bad('is empty');
  const first = entries[0]!;
  const cluster = /^rediss?\+cluster:\/\//.test(first);
  if (!cluster && entries.length === 1) {
    if (!/^rediss?:\/\//.test(first)) return bad('must start with redis://, rediss:// or redis+cluster://');
    try {
      new URL(first);
    } catch {
      return bad('is not a valid URL');
    }
    return { mode: 'single', url: first };
  }
  const tls = /^rediss/.test(first);
  // redis+cluster://a:1,b:2 → the entries after the first are bare host:port.
  const urls = entries.map((entry, i) => {
    if (i === 0 && cluster) return entry.replace(/^rediss?\+cluster:/, tls ? 'rediss:' : 'redis:');
    if (/^rediss?:\/\//.test(entry)) return entry;
    return cluster ? `redis://${entry}` : entry;
  });
  const nodes: RedisNode[] = [];
  let username: string | undefined;
  let password: string | undefined;
  for (const [i, url] of urls.entries()) {
    let parsed: URL;
    try {
      if (!/^rediss?:\/\//.test(url)) throw new Error('scheme');
      parsed = new URL(url);
    } catch {
      return bad(
        'must list cluster nodes as redis://host:port (comma-separated) or redis+cluster://host:port,...',
      );
    }
    if (parsed.hostname === '') return bad('has a cluster node without a host');
    nodes.push({ host: parsed.hostname, port: parsed.port === '' ? DEFAULT_PORT : Number(parsed.port) });
    if (i === 0) {
      username = parsed.username === '' ? undefined : decodeURIComponent(parsed.username);
      password = parsed.password === '' ? undefined : decodeURIComponent(parsed.password);
    }
  }
  return { mode: 'cluster', nodes, username, password, tls };
}
