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
 * Scopes without a budget are not tracked here (their spend reaches SQLite through usage reports
 * as always): a request with no budget on its key, team or org costs no Redis call at all.
 */
import { SCOPES, type Scope } from '../policy/limits.js';
import type { ResolvedKeyPolicy } from '../policy/resolved-policy.js';
import type { RedisClient } from '../ratelimit/redis-connection.js';
import { settled } from '../ratelimit/counter-store.js';
import type { ScopeSpendView, SpendReservation, SpendReserveResult, SpendStore } from './spend-store.js';

/** KEYS: spend, reserved per budgeted scope. ARGV: micros, spendTtl, reservedTtl, then max, persisted per scope. */
const RESERVE = `
local micros = tonumber(ARGV[1])
local n = #KEYS / 2
for i = 1, n do
  local spent = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local persisted = tonumber(ARGV[3 + 2 * i])
  if persisted > spent then
    redis.call('SET', KEYS[2 * i - 1], ARGV[3 + 2 * i], 'PX', ARGV[2])
    spent = persisted
  end
  local reserved = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  if spent + reserved + micros > tonumber(ARGV[2 + 2 * i]) then return i end
end
for i = 1, n do
  redis.call('PEXPIRE', KEYS[2 * i - 1], ARGV[2])
  redis.call('INCRBY', KEYS[2 * i], ARGV[1])
  redis.call('PEXPIRE', KEYS[2 * i], ARGV[3])
end
return 0
`;

/** KEYS: spend, reserved per scope. ARGV: reserved micros, cost micros, spendTtl. */
const FINISH = `
for i = 1, #KEYS / 2 do
  local left = redis.call('DECRBY', KEYS[2 * i], ARGV[1])
  if left <= 0 then redis.call('DEL', KEYS[2 * i]) end
  if tonumber(ARGV[2]) > 0 then
    redis.call('INCRBY', KEYS[2 * i - 1], ARGV[2])
    redis.call('PEXPIRE', KEYS[2 * i - 1], ARGV[3])
  end
end
return 0
`;

interface ScriptedRedis {
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void;
  mget(keys: string[]): Promise<(string | null)[]>;
  keygateSpendReserve(numKeys: number, ...args: (string | number)[]): Promise<number>;
  keygateSpendFinish(numKeys: number, ...args: (string | number)[]): Promise<number>;
}

/** Spend counters outlive their last use by a day, then are re-seeded from the persisted spend. */
export const SPEND_TTL_MS = 86_400_000;

class RedisReservation implements SpendReservation {
  constructor(
    readonly owner: RedisSpendStore,
    readonly micros: number,
    /** spend, reserved key pairs of the budgeted scopes; undefined once the reservation ended. */
    public keys: string[] | undefined,
  ) {}
}

export interface RedisSpendStoreOptions {
  redis: RedisClient;
  /** KEYGATE_REDIS_PREFIX. */
  prefix: string;
  /** How long reservations of an idle scope survive (ms): the upstream timeout plus a margin. */
  reservationTtlMs: number;
}

export class RedisSpendStore implements SpendStore {
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;
  private readonly reservationTtlMs: number;
  /** `scope:id` → org id of the scopes reserved on, for `spendOf` (diagnostics; bounded). */
  private readonly orgs = new Map<string, string>();

  constructor(options: RedisSpendStoreOptions) {
    const redis = options.redis as unknown as ScriptedRedis;
    if (typeof redis.keygateSpendReserve !== 'function') {
      redis.defineCommand('keygateSpendReserve', { lua: RESERVE });
      redis.defineCommand('keygateSpendFinish', { lua: FINISH });
    }
    this.redis = redis;
    this.prefix = options.prefix;
    this.reservationTtlMs = Math.ceil(options.reservationTtlMs);
  }

  /** Seeding happens in `reserve` (the persisted spend travels with every request's policy). */
  observe(): void {}

  reserve(policy: ResolvedKeyPolicy, micros: number): SpendReserveResult | Promise<SpendReserveResult> {
    const keys: string[] = [];
    const limits: string[] = [];
    const scopes: Scope[] = [];
    for (const scope of SCOPES) {
      const state = policy[scope];
      const max = state.limits.maxBudgetMicros;
      if (max === null) continue;
      scopes.push(scope);
      keys.push(this.key('s', policy.org.id, scope, state.id), this.key('r', policy.org.id, scope, state.id));
      limits.push(String(max), String(state.spendMicros));
      this.remember(scope, state.id, policy.org.id);
    }
    if (keys.length === 0) return { ok: true, reservation: new RedisReservation(this, micros, undefined) };
    return this.reserveIn(keys, limits, scopes, micros);
  }

  async settle(reservation: SpendReservation, costMicros: number): Promise<void> {
    await this.finish(reservation, costMicros);
  }

  async release(reservation: SpendReservation): Promise<void> {
    await this.finish(reservation, 0);
  }

  async spendOf(scope: Scope, id: string): Promise<ScopeSpendView | null> {
    const org = this.orgs.get(`${scope}:${id}`);
    if (org === undefined) return null;
    const [spent, reserved] = await settled(
      this.redis.mget([this.key('s', org, scope, id), this.key('r', org, scope, id)]),
      'reading the spend',
    );
    return { spendMicros: Number(spent ?? 0), reservedMicros: Number(reserved ?? 0) };
  }

  private async reserveIn(
    keys: string[],
    limits: string[],
    scopes: Scope[],
    micros: number,
  ): Promise<SpendReserveResult> {
    const refused = await settled(
      this.redis.keygateSpendReserve(
        keys.length,
        ...keys,
        micros,
        SPEND_TTL_MS,
        this.reservationTtlMs,
        ...limits,
      ),
      'reserving the budgets',
    );
    if (refused !== 0) return { ok: false, scope: scopes[refused - 1]! };
    return { ok: true, reservation: new RedisReservation(this, micros, keys) };
  }

  private async finish(reservation: SpendReservation, costMicros: number): Promise<void> {
    if (!(reservation instanceof RedisReservation) || reservation.owner !== this) return;
    const keys = reservation.keys;
    reservation.keys = undefined;
    if (keys === undefined) return;
    await settled(
      this.redis.keygateSpendFinish(
        keys.length,
        ...keys,
        reservation.micros,
        Math.ceil(costMicros),
        SPEND_TTL_MS,
      ),
      'settling the budgets',
    );
  }

  private key(kind: 's' | 'r', org: string, scope: Scope, id: string): string {
    return `${this.prefix}{${org}}:${kind}:${scope}:${id}`;
  }

  private remember(scope: Scope, id: string, org: string): void {
    if (this.orgs.size >= 10_000) this.orgs.clear();
    this.orgs.set(`${scope}:${id}`, org);
  }
}
