/**
 * Leases on what one gateway process holds in Redis while its requests are in flight (issue 12):
 * budget reservations (redis-spend-store.ts) and parallel-cap slots (`max_parallel_requests`,
 * redis-counter-store.ts, issue 14 item 3). A gateway killed with kill -9 cannot give them back,
 * so each is recorded under a lease name of its process, and the lease lives only while the
 * process keeps refreshing it. Once a lease has expired, the next admission on a scope holding
 * something under it removes that (in the admission's own script), so a dead gateway's
 * reservations and slots are freed at most `RESERVATION_LEASE_TTL_MS` after its death, however
 * busy the scope. One instance per process serves both stores (gateway/redis-mode.ts): one lease
 * per org, one refresh per org per second.
 *
 * Lease keys are per org, `<prefix>{<org id>}:lease:<name>`, so the admission script reads them
 * in the slot of the request's other keys (Redis Cluster). This process refreshes, every
 * `RESERVATION_LEASE_REFRESH_MS`, the lease of each org where it holds reservations (`SET XX PX`:
 * one command per such org per second, none when idle).
 *
 * A name is `<owner>.<n>`: `owner` is unique per process (a restarted gateway with the same
 * KEYGATE_GATEWAY_ID never inherits its predecessor's reservations) and `n` changes whenever an
 * org's holdings all ended, or its lease was lost (this process stalled or lost Redis for
 * longer than the TTL, and another gateway may have freed its reservations). A reservation taken
 * after a loss goes under a new name, so late settlements of freed reservations never subtract
 * from newer ones: they find their entry gone and only add their spend.
 */
import { randomBytes } from 'node:crypto';
import { CounterStoreError } from '../ratelimit/counter-store.js';

/** A lease not refreshed for this long has expired: its reservations are freed at the next admission. */
export const RESERVATION_LEASE_TTL_MS = 5000;
/** How often a gateway refreshes the leases of the orgs where it holds reservations. */
export const RESERVATION_LEASE_REFRESH_MS = 1000;

/** What a Redis script answered about the lease an attempt ran under (`holdUnder`). */
export type LeaseOutcome = 'held' | 'none' | 'lost';

/** The Redis commands the leases need (ioredis Redis or Cluster). */
export interface LeaseRedis {
  set(key: string, value: string, px: 'PX', ms: number, xx: 'XX'): Promise<unknown>;
  del(key: string): Promise<unknown>;
}

export interface Lease {
  readonly name: string;
  /** The lease key, `<prefix>{<org>}:lease:<name>`. */
  readonly key: string;
  /** Reservations taken or being taken under it. */
  inFlight: number;
  /** An attempt under it was sent to Redis (see `fresh`). */
  sent: boolean;
  /** A reservation under it was confirmed by Redis: from then on it must still exist. */
  confirmed: boolean;
  lost: boolean;
  readonly org: string;
}

export interface ReservationLeasesOptions {
  redis: LeaseRedis;
  /** KEYGATE_REDIS_PREFIX. */
  prefix: string;
  /** Shown in lease names (the gateway id); made unique per process here. */
  owner?: string;
  ttlMs?: number;
  refreshMs?: number;
}

/** The leases a store was handed (shared by the process's stores), or its own, which it ends on close. */
export function storeLeases(
  given: ReservationLeases | undefined,
  options: Omit<ReservationLeasesOptions, 'redis'> & { redis: unknown },
): { leases: ReservationLeases; own: boolean } {
  if (given !== undefined) return { leases: given, own: false };
  return { leases: new ReservationLeases({ ...options, redis: options.redis as LeaseRedis }), own: true };
}

export class ReservationLeases {
  readonly ttlMs: number;
  private readonly owner: string;
  private next = 0;
  /** Per org, the lease new reservations go under. */
  private readonly current = new Map<string, Lease>();
  /** Every lease with reservations in flight (current ones and lost ones). */
  private readonly active = new Set<Lease>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: ReservationLeasesOptions) {
    this.ttlMs = options.ttlMs ?? RESERVATION_LEASE_TTL_MS;
    this.owner = `${options.owner ?? 'gw'}-${randomBytes(4).toString('hex')}`;
  }

  /** `<prefix>{<org>}:lease:`: the lease keys of an org start with it. */
  keyPrefix(org: string): string {
    return `${this.options.prefix}{${org}}:lease:`;
  }

  /** The lease a new reservation in `org` goes under (counted in flight until `end`). */
  take(org: string): Lease {
    let lease = this.current.get(org);
    if (lease === undefined) {
      const name = `${this.owner}.${++this.next}`;
      lease = {
        name,
        key: this.keyPrefix(org) + name,
        inFlight: 0,
        sent: false,
        confirmed: false,
        lost: false,
        org,
      };
      this.current.set(org, lease);
      this.active.add(lease);
      this.timer ??= setInterval(
        () => this.refresh(),
        this.options.refreshMs ?? RESERVATION_LEASE_REFRESH_MS,
      );
      this.timer.unref();
    }
    lease.inFlight++;
    return lease;
  }

  /**
   * The `fresh` argument of an attempt's script, read once per attempt as it is sent: 1 only for
   * the first attempt under `lease`, which creates the lease key whatever it decides; every later
   * one (0) must find that key or answers that the lease is lost. Later attempts go out on the same
   * connection after the first, so Redis runs them after it. Keying this on a confirmed answer
   * instead let an attempt sent while the first answer was unread (a gateway resuming from a stall
   * longer than the TTL) revive a lease whose holdings others had freed; a late end of a freed
   * holding then subtracted from the new one.
   */
  fresh(lease: Lease): 0 | 1 {
    if (lease.sent) return 0;
    lease.sent = true;
    return 1;
  }

  /** Redis holds a reservation under `lease`. */
  confirm(lease: Lease): void {
    lease.confirmed = true;
  }

  /** Redis no longer has `lease` (expired): its reservations may have been freed by others. */
  lose(lease: Lease): void {
    lease.lost = true;
    if (this.current.get(lease.org) === lease) this.current.delete(lease.org);
  }

  /**
   * Something held under `lease` could not be given back (Redis failed while ending it): new
   * holdings go under a new name, so once the ones still under `lease` end it is no longer
   * refreshed, expires, and what was left under it is freed by the next admissions, even while
   * this process stays busy in the org (it would otherwise be held for as long as the process is).
   */
  retire(lease: Lease): void {
    if (this.current.get(lease.org) === lease) this.current.delete(lease.org);
  }

  /** A reservation under `lease` ended (settled, released, refused or failed). */
  end(lease: Lease): void {
    if (--lease.inFlight > 0) return;
    this.active.delete(lease);
    if (this.current.get(lease.org) === lease) this.current.delete(lease.org);
  }

  /**
   * Runs `attempt` (one Redis script) under this process's lease in `org`. `outcome` reads its
   * answer: `held` (it holds something under the lease from now on: `end` the returned lease when
   * that ends), `none` (refused, nothing held), or `lost` (the lease expired although holdings were
   * made under it: they may have been freed by others, so the attempt runs once more under a new
   * lease, and nothing it changed the first time). An attempt that throws retires the lease
   * (`retire`): Redis may have run it although its answer never arrived.
   */
  async holdUnder<T>(
    org: string,
    attempt: (lease: Lease) => Promise<T>,
    outcome: (answer: T) => LeaseOutcome,
  ): Promise<{ answer: T; lease: Lease | undefined }> {
    let lease = this.take(org);
    let answer: T;
    try {
      answer = await attempt(lease);
      if (outcome(answer) === 'lost') {
        this.lose(lease);
        this.end(lease);
        lease = this.take(org);
        answer = await attempt(lease);
        // Lost twice in a row (the new lease's first attempt never ran): the callers have no
        // refusal to report, so it is a store failure (the fallback admission decides).
        if (outcome(answer) === 'lost') throw new CounterStoreError('the gateway lease was lost twice');
      }
    } catch (error) {
      // The attempt may have run in Redis with its answer lost (a command timeout): what it took
      // is then held under `lease` with no one to end it, so the lease is retired like one whose
      // settlement failed, and the leftover is freed once the lease's other holdings end.
      this.retire(lease);
      this.end(lease);
      throw error;
    }
    if (outcome(answer) !== 'held') {
      this.end(lease);
      return { answer, lease: undefined };
    }
    this.confirm(lease);
    return { answer, lease };
  }

  /** Graceful stop: no more refreshes, and this process's leases end now (others free what is left). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    const leases = [...this.active];
    this.active.clear();
    this.current.clear();
    await Promise.allSettled(leases.map((lease) => this.options.redis.del(lease.key)));
  }

  private refresh(): void {
    for (const lease of this.active) {
      if (!lease.confirmed || lease.lost) continue;
      // XX: a lease that expired is not revived (its reservations may be gone); errors (Redis
      // down) are ignored, the next tick tries again.
      this.options.redis.set(lease.key, '1', 'PX', this.ttlMs, 'XX').then(
        (answer) => {
          if (answer === null) this.lose(lease);
        },
        () => {},
      );
    }
  }
}
