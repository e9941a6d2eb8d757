/**
 * The callable targets this gateway can route to, by name (`GET /internal/targets`), each with
 * its upstream origin and base path parsed once, so the hot path never parses a URL and a
 * client can never change the origin that is contacted.
 */
import type { TargetRoute } from '../src/policy/resolved-policy.js';
import type { Change } from '../src/invalidation/change.js';
import type { TargetSource } from './admin-client.js';

export interface PreparedTarget {
  route: TargetRoute;
  /** `http://host:port` of the target's base URL: the only origin ever contacted for it. */
  origin: string;
  /** Path of the base URL without a trailing slash (`/v1`). */
  basePath: string;
}

/** Where in the change log a catalog was read: its head, and the change there when told. */
export interface CatalogRead {
  seq: number;
  /** The change at `seq` (null: the log is empty); absent from an older admin plane. */
  last?: Change | null;
}

export class TargetCatalog {
  private byName = new Map<string, PreparedTarget>();
  private loadedOnce = false;
  /** The reload in progress (or settled), reloads run one after another. */
  private running: Promise<unknown> = Promise.resolve();
  /** A reload queued behind the running one and not started yet: later callers join it. */
  private queued: Promise<CatalogRead> | undefined;

  constructor(private readonly source: TargetSource) {}

  get loaded(): boolean {
    return this.loadedOnce;
  }

  get(name: string): PreparedTarget | undefined {
    return this.byName.get(name);
  }

  get size(): number {
    return this.byName.size;
  }

  /**
   * Reloads the whole catalog; resolves with where in the change log it was read. The read always
   * starts after the call: a caller never joins a read that began before its change was made.
   */
  reload(): Promise<CatalogRead> {
    if (this.queued !== undefined) return this.queued;
    const start = (): Promise<CatalogRead> => {
      if (this.queued === queued) this.queued = undefined;
      return this.reloadOnce();
    };
    const queued: Promise<CatalogRead> = this.running.then(start, start);
    this.queued = queued;
    this.running = queued.catch(() => undefined);
    return queued;
  }

  /** Replaces the catalog (also used by tests and by reload). */
  replace(targets: readonly TargetRoute[]): void {
    const next = new Map<string, PreparedTarget>();
    for (const route of targets) {
      const prepared = prepare(route);
      if (prepared !== undefined) next.set(route.name, prepared);
    }
    this.byName = next;
    this.loadedOnce = true;
  }

  private async reloadOnce(): Promise<CatalogRead> {
    const { seq, last, targets } = await this.source.targets();
    this.replace(targets);
    return last === undefined ? { seq } : { seq, last };
  }
}

function prepare(route: TargetRoute): PreparedTarget | undefined {
  let url: URL;
  try {
    url = new URL(route.baseUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return { route, origin: url.origin, basePath: url.pathname.replace(/\/+$/, '') };
}
