/**
 * Budget spend in Redis (scale-out mode): every gateway replica reserves, settles and releases
 * against the same counters, so a budget holds across replicas, in integer micro-USD.
 *
 * Layout, per scope with a budget (`<prefix>` is KEYGATE_REDIS_PREFIX, the org id is the hash
 * tag of every key of a request, as for the window counters, so one script never crosses slots
 * on Redis Cluster):
 *   `<prefix>{<org id>}:s:<scope>:<id>`  spend in micro-USD (settled, of every replica)
 *   `<prefix>{<org id>}:r:<scope>:<id>`  in-flight reservations in micro-USD
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
 * Expiry (nothing grows without bound): spend counters live `SPEND_TTL_MS` after their last use
 * (they are re-seeded from the persisted spend afterwards); reservation counters `reservationTtlMs`
 * after the last reservation (the upstream timeout plus a margin), so the reservations of a
 * gateway killed mid-request vanish once the scope is idle that long.
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
import type { ScopeSpendView, SpendReservation, SpendReserveResult, SpendStore } from './spend-store.js';

export { SPEND_TTL_MS };

/**
 * KEYS: spend, reserved per budgeted scope. ARGV: micros, reservedTtl, then per scope: max,
 * persisted (seed), spendTtl.
 */
const RESERVE = `
local micros = tonumber(ARGV[1])
local n = #KEYS / 2
for i = 1, n do
  local spent = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local persisted = tonumber(ARGV[3 * i + 1])
  if persisted > spent then
    redis.call('SET', KEYS[2 * i - 1], ARGV[3 * i + 1], 'PX', ARGV[3 * i + 2])
    spent = persisted
  end
  local reserved = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  if spent + reserved + micros > tonumber(ARGV[3 * i]) then return i end
end
for i = 1, n do
  redis.call('PEXPIRE', KEYS[2 * i - 1], ARGV[3 * i + 2])
  redis.call('INCRBY', KEYS[2 * i], ARGV[1])
  redis.call('PEXPIRE', KEYS[2 * i], ARGV[2])
end
return 0
`;

/** KEYS: spend, reserved per scope. ARGV: reserved micros, cost micros, then spendTtl per scope. */
const FINISH = `
for i = 1, #KEYS / 2 do
  local left = redis.call('DECRBY', KEYS[2 * i], ARGV[1])
  if left <= 0 then redis.call('DEL', KEYS[2 * i]) end
  if tonumber(ARGV[2]) > 0 then
    redis.call('INCRBY', KEYS[2 * i - 1], ARGV[2])
    redis.call('PEXPIRE', KEYS[2 * i - 1], ARGV[2 + i])
  end
end
return 0
`;

interface ScriptedRedis {
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void;
  mget(keys: string[]): Promise<(string | null)[]>;
  keygateSpendReserve2(numKeys: number, ...args: (string | number)[]): Promise<number>;
  keygateSpendFinish2(numKeys: number, ...args: (string | number)[]): Promise<number>;
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
}

export class RedisSpendStore implements SpendStore {
  private readonly redis: ScriptedRedis;
  private readonly keys: RedisBudgetKeys;
  private readonly reservationTtlMs: number;
  /** `scope:id` → where its counters are and their seed, for `spendOf` (diagnostics; bounded). */
  private readonly seen = new Map<string, SeenScope>();

  constructor(options: RedisSpendStoreOptions) {
    const redis = options.redis as unknown as ScriptedRedis;
    if (typeof redis.keygateSpendReserve2 !== 'function') {
      redis.defineCommand('keygateSpendReserve2', { lua: RESERVE });
      redis.defineCommand('keygateSpendFinish2', { lua: FINISH });
    }
    this.redis = redis;
    this.keys = new RedisBudgetKeys(options.prefix, options.clock ?? systemClock);
    this.reservationTtlMs = Math.ceil(options.reservationTtlMs);
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
      return { ok: true, reservation: new RedisReservation(this, micros, undefined, []) };
    const keys: string[] = [];
    const args: (string | number)[] = [];
    for (const counter of counters) {
      keys.push(counter.spendKey, counter.reservedKey);
      args.push(counter.maxMicros, counter.seedMicros, this.keys.ttlMs(counter.expiresAtMs));
      this.remember(policy, counter);
    }
    return this.reserveIn(
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
    const [spent, reserved] = await settled(this.redis.mget(keys), 'reading the spend');
    // Never below the persisted spend the counter would be seeded from (same period only).
    const seed = keys[0] === seen.spendKey ? seen.seedMicros : 0;
    return { spendMicros: Math.max(seed, Number(spent ?? 0)), reservedMicros: Number(reserved ?? 0) };
  }

  private async reserveIn(
    keys: string[],
    args: (string | number)[],
    scopes: Scope[],
    expiresAt: (number | null)[],
    micros: number,
  ): Promise<SpendReserveResult> {
    const refused = await settled(
      this.redis.keygateSpendReserve2(keys.length, ...keys, micros, this.reservationTtlMs, ...args),
      'reserving the budgets',
    );
    if (refused !== 0) return { ok: false, scope: scopes[refused - 1]! };
    return { ok: true, reservation: new RedisReservation(this, micros, keys, expiresAt) };
  }

  private async finish(reservation: SpendReservation, costMicros: number): Promise<void> {
    if (!(reservation instanceof RedisReservation) || reservation.owner !== this) return;
    const keys = reservation.keys;
    reservation.keys = undefined;
    if (keys === undefined) return;
    await settled(
      this.redis.keygateSpendFinish2(
        keys.length,
        ...keys,
        reservation.micros,
        Math.ceil(costMicros),
        ...reservation.expiresAt.map((at) => this.keys.ttlMs(at)),
      ),
      'settling the budgets',
    );
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
