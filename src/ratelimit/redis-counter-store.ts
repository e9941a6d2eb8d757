/**
 * Window counters in Redis (scale-out mode): every gateway replica charges the same counters, so
 * windows stay exact across replicas.
 *
 * Atomicity: `chargeAll` is one Lua script. Redis runs a script to completion with no other
 * command in between, so its check of every window and its commit of every window are one
 * indivisible step for all replicas at once: the same all-or-nothing argument as the memory
 * store's synchronous section. rate-limiter-flexible's Redis limiters are not used for the same
 * reason as in memory: their `consume` charges on refusal, one key at a time.
 *
 * Redis Cluster: a script may only touch keys of one hash slot. Every counter of a request is
 * named with the request's group (its org id, see CounterStore) as a hash tag,
 * `<prefix>{<org id>}:w:<scope>:<id>:<window>:<start>`, so all of them live in one slot and the
 * script never crosses slots; the key and team windows of an org are on the org's shard. Without
 * a group (callers that do not pass one) the key is `<prefix>w:<counter>`, single Redis only.
 *
 * Expiry is garbage collection only (keys carry their window start); it is renewed on every
 * charge or adjustment.
 */
import type { RedisClient } from './redis-connection.js';
import { settled, type ChargeResult, type CounterCharge, type CounterStore } from './counter-store.js';

/** KEYS: counters. ARGV: amount, limit, ttlMs per key. Returns {ok, value per key}. */
const CHARGE_ALL = `
local values = {}
local ok = 1
for i = 1, #KEYS do
  local v = tonumber(redis.call('GET', KEYS[i]) or '0')
  values[i] = v
  if v + tonumber(ARGV[3 * i - 2]) > tonumber(ARGV[3 * i - 1]) then ok = 0 end
end
if ok == 1 then
  for i = 1, #KEYS do
    values[i] = redis.call('INCRBY', KEYS[i], ARGV[3 * i - 2])
    redis.call('PEXPIRE', KEYS[i], ARGV[3 * i])
  end
end
table.insert(values, 1, ok)
return values
`;

/** KEYS[1]: counter. ARGV: delta, ttlMs. Never below zero; a refund to a missing counter is dropped. */
const ADJUST = `
local current = redis.call('GET', KEYS[1])
local delta = tonumber(ARGV[1])
if not current then
  if delta > 0 then redis.call('SET', KEYS[1], delta, 'PX', ARGV[2]) end
  return 0
end
local value = tonumber(current) + delta
if value < 0 then value = 0 end
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return value
`;

interface ScriptedRedis {
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void;
  mget(keys: string[]): Promise<(string | null)[]>;
  keygateChargeAll(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
  keygateAdjust(key: string, delta: number, ttlMs: number): Promise<number>;
}

export interface RedisCounterStoreOptions {
  redis: RedisClient;
  /** Prefix of every key (`KEYGATE_REDIS_PREFIX`), e.g. `keygate:`. */
  prefix: string;
}

export class RedisCounterStore implements CounterStore {
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;

  constructor(options: RedisCounterStoreOptions) {
    const redis = options.redis as unknown as ScriptedRedis;
    if (typeof redis.keygateChargeAll !== 'function') {
      redis.defineCommand('keygateChargeAll', { lua: CHARGE_ALL });
      redis.defineCommand('keygateAdjust', { numberOfKeys: 1, lua: ADJUST });
    }
    this.redis = redis;
    this.prefix = options.prefix;
  }

  /** The Redis key of a counter: `<prefix>{<group>}:w:<counter>` (see the file comment). */
  private redisKey(key: string, group: string | undefined): string {
    return group === undefined ? `${this.prefix}w:${key}` : `${this.prefix}{${group}}:w:${key}`;
  }

  async chargeAll(charges: readonly CounterCharge[], group?: string): Promise<ChargeResult> {
    if (charges.length === 0) return { ok: true, values: [] };
    const args: (string | number)[] = charges.map((charge) => this.redisKey(charge.key, group));
    for (const charge of charges) args.push(charge.amount, charge.limit, Math.ceil(charge.ttlMs));
    const [ok, ...values] = await settled(
      this.redis.keygateChargeAll(charges.length, ...args),
      'charging the windows',
    );
    return { ok: ok === 1, values: values.map(Number) };
  }

  async adjust(key: string, delta: number, ttlMs: number, group?: string): Promise<void> {
    await settled(
      this.redis.keygateAdjust(this.redisKey(key, group), delta, Math.ceil(ttlMs)),
      'adjusting a window',
    );
  }

  async read(keys: readonly string[], group?: string): Promise<number[]> {
    if (keys.length === 0) return [];
    const values = await settled(
      this.redis.mget(keys.map((key) => this.redisKey(key, group))),
      'reading the windows',
    );
    return values.map((value) => (value === null ? 0 : Number(value)));
  }
}
