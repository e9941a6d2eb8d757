/**
 * Budget spend in Redis (scale-out mode): every gateway replica reserves, settles and releases
 * against the same counters, so a budget holds across replicas, in integer micro-USD.
 *
 * Layout, per scope with a budget (`<prefix>` is KEYGATE_REDIS_PREFIX, the org id is the hash
 * tag of every key of a request, as for the window counters, so one script never crosses slots
 * on Redis Cluster):
 *   `<prefix>{<org id>}:s:<scope>:<id>`  spend in micro-USD (settled, of every replica)
 *   `<prefix>{<org id>}:rl:<scope>:<id>` in-flight reservations: a hash, lease name → micro-USD
 *   `<prefix>{<org id>}:lease:<name>`    a gateway process's lease in the org (reservation-leases.ts)
 *
 * Seeding: the spend counter is never below the persisted spend a loaded policy carries (the
 * admin plane's SQLite total of every usage report). `reserve` raises it to that figure when it is
 * lower, which seeds a counter the first time, after its expiry and after a Redis restart, and
 * repairs a seed taken from a stale cached policy. Both figures only count real spend, so the
 * larger one is never more than what was spent. Spend settled but not yet reported when Redis
 * loses its data is the one thing not seen until its report lands (documented limit).
 *
 * Atomicity: `reserve` is one Lua script: it checks spend + reservations + the estimate against
 * the budget of every scope that has one, and reserves on all of them or on none, so two replicas
 * can never both fit into the last few cents.
 *
 * Leases (a gateway killed mid-request): every reservation is held under its process's lease in
 * the org. The reserve script first drops, from each scope's hash, the entries whose lease has
 * expired, then decides on what is left, so a dead gateway's reservations are freed at the first
 * admission on the scope after its lease expired (at most RESERVATION_LEASE_TTL_MS after its
 * death), still in one script call. `spendOf` counts live leases only.
 *
 * Expiry (nothing grows without bound): spend counters live `SPEND_TTL_MS` after their last use
 * (they are re-seeded from the persisted spend afterwards); reservation hashes `reservationTtlMs`
 * after the last reservation (the upstream timeout plus a margin), a backstop for scopes nobody
 * admits on any more; lease keys `RESERVATION_LEASE_TTL_MS` after their last refresh.
 *
 * Budget periods (`budget_period`): a scope budgeted per period reserves against the spend
 * counter of the current calendar period (redis-period-keys.ts), in the same script and with the
 * same seeding rule, so lifetime and period budgets are decided together, all or nothing.
 *
 * Scopes without a budget are not tracked here (their spend reaches SQLite through usage reports
 * as always): a request with no budget on its key, team or org costs no Redis call at all.
 */
import { systemClock, type Clock } from '../clock.js';
import type { Scope } from '../policy/limits.js';
import type { ResolvedKeyPolicy } from '../policy/resolved-policy.js';
import type { RedisClient } from '../ratelimit/redis-connection.js';
import { settled } from '../ratelimit/counter-store.js';
import type { BudgetPeriod } from './period.js';
import { RedisBudgetKeys, SPEND_TTL_MS, type BudgetCounter } from './redis-period-keys.js';
import { RedisCallBatcher } from '../ratelimit/redis-call-batcher.js';
import { storeLeases, type Lease, type ReservationLeases } from './reservation-leases.js';
import type { ScopeSpendView, SpendReservation, SpendReserveResult, SpendStore } from './spend-store.js';

export { SPEND_TTL_MS };

/**
 * KEYS: spend, reservations per budgeted scope. ARGV: micros, reservedTtl, lease name, lease key
 * prefix of the org, lease TTL, fresh (1: the first attempt under this lease, which creates its
 * key; otherwise the key must exist), then per scope:
 * max, persisted (seed), spendTtl. Returns 0 (reserved), the 1-based index of the first scope
 * that does not fit, or -1 when the lease expired although reservations were made under it.
 * A lease's liveness is looked up once per call, however many scopes name it.
 * Lease keys are named from the prefix argument rather than passed in KEYS (which gateways hold
 * reservations is only known inside the script); they carry the org's hash tag, so they live in
 * the slot of the request's other keys (tested on a 3-master Cluster).
 */
const RESERVE = `
local micros = tonumber(ARGV[1])
local me = ARGV[3]
local leases = ARGV[4]
if ARGV[6] == '1' then
  redis.call('SET', leases .. me, '1', 'PX', ARGV[5])
elseif redis.call('EXISTS', leases .. me) == 0 then
  return -1
end
local n = #KEYS / 2
local live = {}
live[me] = true
for i = 1, n do
  local a = 6 + 3 * (i - 1)
  local spent = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local persisted = tonumber(ARGV[a + 2])
  if persisted > spent then
    redis.call('SET', KEYS[2 * i - 1], ARGV[a + 2], 'PX', ARGV[a + 3])
    spent = persisted
  end
  local reserved = 0
  local held = redis.call('HGETALL', KEYS[2 * i])
  for j = 1, #held, 2 do
    local name = held[j]
    if live[name] == nil then live[name] = redis.call('EXISTS', leases .. name) == 1 end
    if live[name] then
      reserved = reserved + tonumber(held[j + 1])
    else
      redis.call('HDEL', KEYS[2 * i], name)
    end
  end
  if spent + reserved + micros > tonumber(ARGV[a + 1]) then return i end
end
redis.call('SET', leases .. me, '1', 'PX', ARGV[5])
for i = 1, n do
  redis.call('PEXPIRE', KEYS[2 * i - 1], ARGV[6 + 3 * i])
  redis.call('HINCRBY', KEYS[2 * i], me, ARGV[1])
  redis.call('PEXPIRE', KEYS[2 * i], ARGV[2])
end
return 0
`;

/** KEYS: spend, reservations of one scope. ARGV: lease key prefix. Spend and live reservations. */
const VIEW = `
local reserved = 0
local held = redis.call('HGETALL', KEYS[2])
for j = 1, #held, 2 do
  if redis.call('EXISTS', ARGV[1] .. held[j]) == 1 then reserved = reserved + tonumber(held[j + 1]) end
end
return { redis.call('GET', KEYS[1]) or '0', reserved }
`;

interface ScriptedRedis {
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void;
  keygateSpendReserve3(numKeys: number, ...args: (string | number)[]): Promise<number>;
  keygateSpendView3(numKeys: number, ...args: string[]): Promise<[string, number]>;
}

interface SeenScope {
  org: string;
  period: BudgetPeriod | null;
  spendKey: string;
  seedMicros: number;
}

class RedisReservation implements SpendReservation {
  constructor(
    readonly owner: RedisSpendStore,
    readonly micros: number,
    /** spend, reserved key pairs of the budgeted scopes; undefined once the reservation ended. */
    public keys: string[] | undefined,
    /** The org: hash tag of the keys. */
    readonly org: string,
    /** The lease it is held under (none without a budgeted scope). */
    readonly lease: Lease | undefined,
    /** Per scope: when its spend counter expires (period budgets), null for SPEND_TTL_MS. */
    readonly expiresAt: (number | null)[],
  ) {}
}

export interface RedisSpendStoreOptions {
  redis: RedisClient;
  /** KEYGATE_REDIS_PREFIX. */
  prefix: string;
  /** How long reservations of an idle scope survive (ms): the upstream timeout plus a margin. */
  reservationTtlMs: number;
  /** Decides the current budget period (UTC calendar); the system clock by default. */
  clock?: Clock;
  /** This process's leases, shared with the counter store (a store of its own when absent). */
  leases?: ReservationLeases;
  /** Shown in this process's lease names (the gateway id), when the leases are the store's own. */
  owner?: string;
  /** Lease timing of the store's own leases (reservation-leases.ts); tests shorten it. */
  leaseTtlMs?: number;
  leaseRefreshMs?: number;
  /**
   * Where settlements go: this process's batcher, shared with the counter store (one of the
   * store's own, sending at the end of each event-loop turn, when absent).
   */
  batcher?: RedisCallBatcher;
}

export class RedisSpendStore implements SpendStore {
  readonly settlesAsynchronously = true;
  private readonly redis: ScriptedRedis;
  private readonly keys: RedisBudgetKeys;
  private readonly reservationTtlMs: number;
  private readonly leases: ReservationLeases;
  /** The leases were created here, so `close` ends them. */
  private readonly ownLeases: boolean;
  private readonly batcher: RedisCallBatcher;
  /** `scope:id` → where its counters are and their seed, for `spendOf` (diagnostics; bounded). */
  private readonly seen = new Map<string, SeenScope>();

  constructor(options: RedisSpendStoreOptions) {
    const redis = options.redis as unknown as ScriptedRedis;
    if (typeof redis.keygateSpendReserve3 !== 'function') {
      redis.defineCommand('keygateSpendReserve3', { lua: RESERVE });
      redis.defineCommand('keygateSpendView3', { lua: VIEW });
    }
    this.redis = redis;
    this.batcher = options.batcher ?? new RedisCallBatcher({ redis: options.redis });
    this.keys = new RedisBudgetKeys(options.prefix, options.clock ?? systemClock);
    this.reservationTtlMs = Math.ceil(options.reservationTtlMs);
    ({ leases: this.leases, own: this.ownLeases } = storeLeases(options.leases, {
      redis: options.redis,
      prefix: options.prefix,
      owner: options.owner,
      ttlMs: options.leaseTtlMs,
      refreshMs: options.leaseRefreshMs,
    }));
  }

  /**
   * Graceful stop: the store's own leases end, so what it still holds is freed at once (shared
   * leases are ended by whoever created them).
   */
  async close(): Promise<void> {
    if (this.ownLeases) await this.leases.close();
  }

  /**
   * Seeding happens in `reserve` (the persisted spend travels with every request's policy); this
   * only lets `spendOf` find the counters of a policy this replica has not reserved on (explain).
   */
  observe(policy: ResolvedKeyPolicy): void {
    for (const counter of this.keys.countersOf(policy)) this.remember(policy, counter);
  }

  reserve(policy: ResolvedKeyPolicy, micros: number): SpendReserveResult | Promise<SpendReserveResult> {
    const counters = this.keys.countersOf(policy);
    if (counters.length === 0)
      return {
        ok: true,
        reservation: new RedisReservation(this, micros, undefined, policy.org.id, undefined, []),
      };
    const keys: string[] = [];
    const args: (string | number)[] = [];
    for (const counter of counters) {
      keys.push(counter.spendKey, counter.reservedKey);
      args.push(counter.maxMicros, counter.seedMicros, this.keys.ttlMs(counter.expiresAtMs));
      this.remember(policy, counter);
    }
    return this.reserveIn(
      policy.org.id,
      keys,
      args,
      counters.map((counter) => counter.scope),
      counters.map((counter) => counter.expiresAtMs),
      micros,
    );
  }

  async settle(reservation: SpendReservation, costMicros: number): Promise<void> {
    await this.finish(reservation, costMicros);
  }

  async release(reservation: SpendReservation): Promise<void> {
    await this.finish(reservation, 0);
  }

  /** Lifetime spend, or the current period's for a scope last reserved on with a budget period. */
  async spendOf(scope: Scope, id: string): Promise<ScopeSpendView | null> {
    const seen = this.seen.get(`${scope}:${id}`);
    if (seen === undefined) return null;
    const keys = this.keys.viewKeys(seen.org, scope, id, seen.period);
    const [spent, reserved] = await settled(
      this.redis.keygateSpendView3(2, ...keys, this.leases.keyPrefix(seen.org)),
      'reading the spend',
    );
    // Never below the persisted spend the counter would be seeded from (same period only).
    const seed = keys[0] === seen.spendKey ? seen.seedMicros : 0;
    return { spendMicros: Math.max(seed, Number(spent)), reservedMicros: Number(reserved) };
  }

  private async reserveIn(
    org: string,
    keys: string[],
    args: (string | number)[],
    scopes: Scope[],
    expiresAt: (number | null)[],
    micros: number,
  ): Promise<SpendReserveResult> {
    // -1: this process's lease in the org expired (a stall, or Redis unreachable for longer than
    // the TTL), so its reservations there may be freed: holdUnder goes on under a new lease.
    const { answer, lease } = await this.leases.holdUnder(
      org,
      (attempt) => this.reserveUnder(attempt, keys, args, micros),
      (reply) => (reply === -1 ? 'lost' : reply === 0 ? 'held' : 'none'),
    );
    if (lease === undefined) return { ok: false, scope: scopes[answer - 1]! };
    return { ok: true, reservation: new RedisReservation(this, micros, keys, org, lease, expiresAt) };
  }

  private reserveUnder(lease: Lease, keys: string[], args: (string | number)[], micros: number) {
    return settled(
      this.redis.keygateSpendReserve3(
        keys.length,
        ...keys,
        micros,
        this.reservationTtlMs,
        lease.name,
        this.leases.keyPrefix(lease.org),
        this.leases.ttlMs,
        this.leases.fresh(lease),
        ...args,
      ),
      'reserving the budgets',
    );
  }

  private async finish(reservation: SpendReservation, costMicros: number): Promise<void> {
    if (!(reservation instanceof RedisReservation) || reservation.owner !== this) return;
    const keys = reservation.keys;
    reservation.keys = undefined;
    if (keys === undefined) return;
    const lease = reservation.lease!;
    const micros = reservation.micros;
    const cost = Math.ceil(costMicros);
    // One operation per scope, all in this event-loop turn's settlement batch (one script call).
    const done: Promise<void>[] = [];
    for (let i = 0; i < keys.length; i += 2) {
      const ttlMs = this.keys.ttlMs(reservation.expiresAt[i / 2]!);
      done.push(
        this.batcher.finishSpend(reservation.org, keys[i]!, keys[i + 1]!, lease.name, micros, cost, ttlMs),
      );
    }
    try {
      await settled(Promise.all(done), 'settling the budgets');
    } catch (error) {
      this.leases.retire(reservation.lease!);
      throw error;
    } finally {
      this.leases.end(reservation.lease!);
    }
  }

  private remember(policy: ResolvedKeyPolicy, counter: BudgetCounter): void {
    if (this.seen.size >= 10_000) this.seen.clear();
    this.seen.set(`${counter.scope}:${counter.id}`, {
      org: policy.org.id,
      period: policy[counter.scope].limits.budgetPeriod ?? null,
      spendKey: counter.spendKey,
      seedMicros: counter.seedMicros,
    });
  }
}
