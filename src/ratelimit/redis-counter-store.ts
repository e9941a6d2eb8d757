/**
 * Window counters and parallel caps in Redis (scale-out mode): every gateway replica charges the
 * same counters, so windows and in-flight caps stay exact across replicas.
 *
 * Atomicity: `chargeAll` runs in one Lua script. Redis runs a script to completion with no other
 * command in between, so its check of every window and its commit of every window are one
 * indivisible step for all replicas at once: the same all-or-nothing argument as the memory
 * store's synchronous section. rate-limiter-flexible's Redis limiters are not used for the same
 * reason as in memory: their `consume` charges on refusal, one key at a time.
 *
 * Calls: window charges, adjustments and given-back slots go through the process's
 * RedisCallBatcher (redis-call-batcher.ts), which sends those of one event-loop turn as one script
 * call per org, each request's charge still all-or-nothing on its own; charges that hold parallel
 * slots use CHARGE_ALL below, one call each (its lease answer is per call).
 *
 * Redis Cluster: a script may only touch keys of one hash slot. Every counter of a request is
 * named with the request's group (its org id, see CounterStore) as a hash tag,
 * `<prefix>{<org id>}:w:<scope>:<id>:<window>:<start>`, so all of them live in one slot and the
 * script never crosses slots; the key and team windows of an org are on the org's shard. Without
 * a group (callers that do not pass one) the key is `<prefix>w:<counter>`, single Redis only.
 *
 * Held charges (parallel caps, `max_parallel_requests`): a hash per scope,
 * `<prefix>{<org id>}:pl:<scope>:<id>:parallel:0`, lease name → requests in flight under it, and
 * the lease keys of the budget reservations (src/budget/reservation-leases.ts, one instance per
 * process shared with RedisSpendStore). The charge script first drops the entries of expired
 * leases, then decides on what is left, so the slots of a gateway killed with kill -9 are freed by
 * the next admission on the scope at most RESERVATION_LEASE_TTL_MS after its death; before
 * leases a plain counter kept them until it was left alone for a day, which on a busy team is
 * never. `endHeld` gives a request's slots back under the lease it took them with (a lease that
 * expired meanwhile has nothing left to give back).
 *
 * Expiry is garbage collection only (window keys carry their window start, held hashes empty
 * themselves): a window counter gets it when a charge creates it (window length + 1 s from then,
 * so past the window's end), and it is renewed by adjustments and by held charges.
 */
import type { RedisClient } from './redis-connection.js';
import { RedisCallBatcher } from './redis-call-batcher.js';
import { storeLeases, type Lease, type ReservationLeases } from '../budget/reservation-leases.js';
import {
  refKey,
  settled,
  type ChargeResult,
  type CounterCharge,
  type CounterHold,
  type CounterRef,
  type CounterStore,
} from './counter-store.js';

/**
 * KEYS: counters. ARGV: lease name ('' when no charge is held), lease key prefix, lease TTL, fresh
 * (1: the first attempt under this lease, which creates its key; otherwise the key must exist),
 * then per key amount, limit, ttlMs, held (1/0).
 * Returns {ok, value per key}, or {-1} when the lease expired although slots were held under it.
 * A lease's liveness is looked up once per call, however many held counters name it.
 */
const CHARGE_ALL = `
local me = ARGV[1]
local leases = ARGV[2]
if me ~= '' then
  if ARGV[4] == '1' then
    redis.call('SET', leases .. me, '1', 'PX', ARGV[3])
  elseif redis.call('EXISTS', leases .. me) == 0 then
    return {-1}
  end
end
local values = {}
local ok = 1
local live = {}
live[me] = true
for i = 1, #KEYS do
  local a = 4 * i
  local v = 0
  if ARGV[a + 4] == '1' then
    local held = redis.call('HGETALL', KEYS[i])
    for j = 1, #held, 2 do
      local name = held[j]
      if live[name] == nil then live[name] = redis.call('EXISTS', leases .. name) == 1 end
      if live[name] then
        v = v + tonumber(held[j + 1])
      else
        redis.call('HDEL', KEYS[i], name)
      end
    end
  else
    v = tonumber(redis.call('GET', KEYS[i]) or '0')
  end
  values[i] = v
  if v + tonumber(ARGV[a + 1]) > tonumber(ARGV[a + 2]) then ok = 0 end
end
if ok == 1 then
  if me ~= '' then redis.call('SET', leases .. me, '1', 'PX', ARGV[3]) end
  for i = 1, #KEYS do
    local a = 4 * i
    if ARGV[a + 4] == '1' then
      redis.call('HINCRBY', KEYS[i], me, ARGV[a + 1])
      values[i] = values[i] + tonumber(ARGV[a + 1])
    else
      values[i] = redis.call('INCRBY', KEYS[i], ARGV[a + 1])
    end
    redis.call('PEXPIRE', KEYS[i], ARGV[a + 3])
  end
end
table.insert(values, 1, ok)
return values
`;

/** KEYS: counters. ARGV: lease key prefix, then per key held (1/0). Held ones count live leases only. */
const READ = `
local values = {}
for i = 1, #KEYS do
  local v = 0
  if ARGV[1 + i] == '1' then
    local held = redis.call('HGETALL', KEYS[i])
    for j = 1, #held, 2 do
      if redis.call('EXISTS', ARGV[1] .. held[j]) == 1 then v = v + tonumber(held[j + 1]) end
    end
  else
    v = tonumber(redis.call('GET', KEYS[i]) or '0')
  end
  values[i] = v
end
return values
`;

interface ScriptedRedis {
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void;
  mget(keys: string[]): Promise<(string | null)[]>;
  keygateChargeAll2(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
  keygateRead(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
}

/** The lease an admission's held charges were taken under. */
class RedisHold {
  constructor(
    readonly owner: RedisCounterStore,
    readonly lease: Lease,
  ) {}
}

const noop = (): void => {};

export interface RedisCounterStoreOptions {
  redis: RedisClient;
  /** Prefix of every key (`KEYGATE_REDIS_PREFIX`), e.g. `keygate:`. */
  prefix: string;
  /** This process's leases, shared with the spend store (a store of its own when absent). */
  leases?: ReservationLeases;
  /** Lease timing of the store's own leases; tests shorten it. */
  leaseTtlMs?: number;
  leaseRefreshMs?: number;
  /**
   * Where adjustments and given-back slots go: this process's batcher, shared with the spend
   * store (one of the store's own, sending at the end of each event-loop turn, when absent).
   */
  batcher?: RedisCallBatcher;
}

export class RedisCounterStore implements CounterStore {
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;
  private readonly leases: ReservationLeases;
  private readonly ownLeases: boolean;
  private readonly batcher: RedisCallBatcher;

  constructor(options: RedisCounterStoreOptions) {
    const redis = options.redis as unknown as ScriptedRedis;
    if (typeof redis.keygateChargeAll2 !== 'function') {
      redis.defineCommand('keygateChargeAll2', { lua: CHARGE_ALL });
      redis.defineCommand('keygateRead', { lua: READ });
    }
    this.redis = redis;
    this.prefix = options.prefix;
    this.batcher = options.batcher ?? new RedisCallBatcher({ redis: options.redis });
    ({ leases: this.leases, own: this.ownLeases } = storeLeases(options.leases, {
      redis: options.redis,
      prefix: options.prefix,
      ttlMs: options.leaseTtlMs,
      refreshMs: options.leaseRefreshMs,
    }));
  }

  /** Graceful stop: the store's own leases end, so the slots it still holds are freed at once. */
  async close(): Promise<void> {
    if (this.ownLeases) await this.leases.close();
  }

  /** The Redis key of a counter: `<prefix>{<group>}:w:<counter>` (`:pl:` when held, see the file comment). */
  private redisKey(key: string, group: string | undefined, held = false): string {
    const kind = held ? 'pl:' : 'w:';
    return group === undefined ? `${this.prefix}${kind}${key}` : `${this.prefix}{${group}}:${kind}${key}`;
  }

  async chargeAll(charges: readonly CounterCharge[], group?: string): Promise<ChargeResult> {
    if (charges.length === 0) return { ok: true, values: [] };
    const keys = charges.map((charge) => this.redisKey(charge.key, group, charge.held === true));
    if (!charges.some((charge) => charge.held === true)) {
      // Window charges only: in this turn's batch call (redis-call-batcher.ts).
      const [ok, ...values] = await settled(
        this.batcher.charge(
          group,
          keys,
          charges.map((charge) => charge.amount),
          charges.map((charge) => charge.limit),
          charges.map((charge) => charge.ttlMs),
        ),
        'charging the windows',
      );
      return { ok: ok === 1, values };
    }
    const args: (string | number)[] = [];
    for (const charge of charges)
      args.push(charge.amount, charge.limit, Math.ceil(charge.ttlMs), charge.held === true ? 1 : 0);
    const { answer, lease } = await this.leases.holdUnder(
      group ?? '',
      (attempt) =>
        this.charge(
          keys,
          [attempt.name, this.leases.keyPrefix(attempt.org), this.leases.ttlMs, this.leases.fresh(attempt)],
          args,
        ),
      (reply) => (reply[0] === -1 ? 'lost' : reply[0] === 1 ? 'held' : 'none'),
    );
    const [ok, ...values] = answer;
    if (lease === undefined) return { ok: ok === 1, values };
    return { ok: true, values, hold: new RedisHold(this, lease) };
  }

  async endHeld(
    charges: readonly CounterCharge[],
    hold: CounterHold | undefined,
    group?: string,
  ): Promise<void> {
    if (!(hold instanceof RedisHold) || hold.owner !== this) return;
    const given: Promise<void>[] = [];
    for (const charge of charges) {
      if (charge.held !== true) continue;
      given.push(
        this.batcher.endHeld(group, this.redisKey(charge.key, group, true), hold.lease.name, charge.amount),
      );
    }
    try {
      await settled(Promise.all(given), 'giving back the parallel slots');
    } catch (error) {
      this.leases.retire(hold.lease);
      throw error;
    } finally {
      this.leases.end(hold.lease);
    }
  }

  async adjust(key: string, delta: number, ttlMs: number, group?: string): Promise<void> {
    await settled(this.batcher.adjust(group, this.redisKey(key, group), delta, ttlMs), 'adjusting a window');
  }

  /** Every non-zero delta in the batch of this event-loop turn (one script call with the others). */
  async adjustAll(
    charges: readonly CounterCharge[],
    deltas: readonly number[],
    group?: string,
  ): Promise<void> {
    let done: Promise<void> | undefined;
    let more: Promise<void>[] | undefined;
    for (let i = 0; i < charges.length; i++) {
      const delta = deltas[i]!;
      if (delta === 0) continue;
      const charge = charges[i]!;
      const answer = this.batcher.adjust(group, this.redisKey(charge.key, group), delta, charge.ttlMs);
      // Usually one batch for all of them; two when the batch filled up in between.
      if (done === undefined) done = answer;
      else if (answer !== done) (more ??= []).push(answer);
    }
    if (done === undefined) return;
    await settled(
      more === undefined ? done : Promise.all([done, ...more]).then(noop),
      'adjusting the windows',
    );
  }

  async read(counters: readonly CounterRef[], group?: string): Promise<number[]> {
    if (counters.length === 0) return [];
    const held = counters.map((counter) => typeof counter !== 'string' && counter.held === true);
    const keys = counters.map((counter, i) => this.redisKey(refKey(counter), group, held[i]));
    if (!held.includes(true)) {
      const values = await settled(this.redis.mget(keys), 'reading the windows');
      return values.map((value) => (value === null ? 0 : Number(value)));
    }
    const values = await settled(
      this.redis.keygateRead(
        keys.length,
        ...keys,
        this.leases.keyPrefix(group ?? ''),
        ...held.map((flag) => (flag ? 1 : 0)),
      ),
      'reading the windows',
    );
    return values.map(Number);
  }

  private async charge(
    keys: string[],
    lease: (string | number)[],
    args: (string | number)[],
  ): Promise<number[]> {
    const reply = await settled(
      this.redis.keygateChargeAll2(keys.length, ...keys, ...lease, ...args),
      'charging the windows',
    );
    return reply.map(Number);
  }
}
