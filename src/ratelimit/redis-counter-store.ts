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
 * Keys of one request span scopes, so they are not in one hash slot: this store needs a single
 * Redis (or a primary with replicas), not Redis Cluster.
 *
 * Expiry is garbage collection only (keys carry their window start); it is renewed on every
 * charge or adjustment.
 */
import type { Redis } from 'ioredis';
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

interface ScriptedRedis extends Redis {
  keygateChargeAll(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
  keygateAdjust(key: string, delta: number, ttlMs: number): Promise<number>;
}

export interface RedisCounterStoreOptions {
  redis: Redis;
  /** Prefix of every key (`KEYGATE_REDIS_PREFIX`), e.g. `keygate:`. */
  prefix: string;
}

export class RedisCounterStore implements CounterStore {
  private readonly redis: ScriptedRedis;
  private readonly prefix: string;

  constructor(options: RedisCounterStoreOptions) {
    const redis = options.redis as ScriptedRedis;
    if (typeof redis.keygateChargeAll !== 'function') {
      redis.defineCommand('keygateChargeAll', { lua: CHARGE_ALL });
      redis.defineCommand('keygateAdjust', { numberOfKeys: 1, lua: ADJUST });
    }
    this.redis = redis;
    this.prefix = `${options.prefix}w:`;
  }

  async chargeAll(charges: readonly CounterCharge[]): Promise<ChargeResult> {
    if (charges.length === 0) return { ok: true, values: [] };
    const args: (string | number)[] = charges.map((charge) => this.prefix + charge.key);
    for (const charge of charges) args.push(charge.amount, charge.limit, Math.ceil(charge.ttlMs));
    const [ok, ...values] = await settled(
      this.redis.keygateChargeAll(charges.length, ...args),
      'charging the windows',
    );
    return { ok: ok === 1, values: values.map(Number) };
  }

  async adjust(key: string, delta: number, ttlMs: number): Promise<void> {
    await settled(this.redis.keygateAdjust(this.prefix + key, delta, Math.ceil(ttlMs)), 'adjusting a window');
  }

  async read(keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return [];
    const values = await settled(
      this.redis.mget(keys.map((key) => this.prefix + key)),
      'reading the windows',
    );
    return values.map((value) => (value === null ? 0 : Number(value)));
  }
}
