/**
 * keygate's per-request Redis work in Redis mode, coalesced into ONE script call per event-loop
 * turn and hash tag (the org id; on a single server, one call for all orgs): the window charges
 * of the requests admitted in the turn, and the ends of requests: window adjustments (the token
 * settle, refunds), parallel slots given back, budget reservations settled or released. Both Redis
 * stores of a process share one batcher (gateway/redis-mode.ts), so a request's window and spend
 * settlements travel together, and a hot key's admissions share calls instead of costing one
 * script each (bench/redis-cost.ts; issue 12's Redis ÷ memory target).
 *
 * What it keeps:
 * - All-or-nothing per request: a call runs its charges one request after the other, each
 *   checked against the counters as every earlier one (of this call or any earlier call, of any
 *   replica) left them and applied in full or not at all, inside one script, so no other command
 *   runs in between. A refused request charges nothing, as with one script per request.
 * - Settlement semantics: each has the semantics of the single-call scripts it replaced (window
 *   counters never below zero and a refund to a missing counter dropped; slots and reservations
 *   taken off only the entry of their own lease; spend only ever added). Settlements of one
 *   counter within a call are summed first, which is what applying them one after another gives
 *   (concurrent settlements have no order), except that the counter is clamped at zero once
 *   instead of after each: every amount given back was charged before, so the clamp only matters
 *   for a counter Redis lost meanwhile. A call applies its settlements before its charges.
 * - Timing: charges leave at the end of the turn they were made in, when ioredis's own
 *   auto-pipelining would have written them too (the batch command itself bypasses it, see
 *   redis-connection.ts), so admission waits no longer than before. Settlements may wait up to
 *   `windowMs` (0: the end of the turn) for others, and go out earlier with any charge. They
 *   already run after the answer was sent, off the response path; meanwhile the request's
 *   reservation keeps guarding its windows and budgets, so a late settlement refuses
 *   conservatively, and real usage above the reservation reaches the windows that much later
 *   (the same bound as the settle after the upstream answered).
 * - Failures: a call that fails (Redis down, timeout) rejects every operation in it, so each
 *   caller handles it as it handled its own failed call: a charge falls back like a failed
 *   admission (redis-fallback-admission.ts), and the stores retire the lease of a slot or
 *   reservation they could not give back (reservation-leases.ts).
 * - Cluster: a script touches one slot only; operations are grouped by hash tag, and each
 *   group's keys all carry it. Charges that hold parallel slots under a lease, and budget
 *   reservations, keep their own scripts (their lease answers are per call).
 */
import { BATCH_COMMAND, isCluster, type RedisClient } from './redis-connection.js';

/**
 * KEYS: first the m counters charged in this call (each once), then the keys of the settlements
 * in the order they use them. ARGV:
 * 1. m, then the index in ARGV where the settlements start;
 * 2. per charged counter (spec) j: its limit and ttlMs (a counter charged under two limits, by
 *    policies of two versions, is two specs with the same key);
 * 3. the charges, each one request's: n, then per counter its spec number and amount. All fit
 *    (`value + amount <= limit`) and all are added, or none is;
 * 4. the settlements, each a kind, then:
 *    - `a` (window adjust, 1 key): delta, ttlMs. Never below zero; a refund to a missing counter is dropped;
 *    - `h` (held slots given back, 1 key: the scope's hash): lease name, amount. Only that lease's entry;
 *    - `f` (budget settle, 2 keys: spend, reservations): lease name, reserved, cost, spend ttlMs. The
 *      lease's reservation entry goes down by `reserved` (removed at zero; nothing when it was freed
 *      meanwhile), the spend up by `cost`.
 * Settlements are applied first. Returns, flat, per charge in order: ok (1/0), then the value of
 * each of its counters: after the charge when ok, as found when not.
 * Each charged counter is read once (one MGET) and written once (INCRBY of the call's sum, and
 * its TTL when the call created it: its key carries its window start, so the TTL from the first
 * charge outlives the window). Arguments are few and parsed once: they cost Redis more than the
 * arithmetic (about 1,000 instructions to receive each, 2,000 to parse a number, 7,000 per
 * nested reply table, measured with callgrind), so counters are named once per call, not per
 * request, and the reply is one flat array.
 */
const BATCH = `
local m = tonumber(ARGV[1])
local s = tonumber(ARGV[2])
local k = m + 1
local a = s
while a <= #ARGV do
  local kind = ARGV[a]
  if kind == 'a' then
    local key = KEYS[k]
    local delta = tonumber(ARGV[a + 1])
    local found = redis.call('GET', key)
    if found then
      local value = tonumber(found) + delta
      if value < 0 then value = 0 end
      redis.call('SET', key, value, 'PX', ARGV[a + 2])
    elseif delta > 0 then
      redis.call('SET', key, delta, 'PX', ARGV[a + 2])
    end
    k = k + 1
    a = a + 3
  elseif kind == 'h' then
    local key = KEYS[k]
    if redis.call('HEXISTS', key, ARGV[a + 1]) == 1 then
      local left = redis.call('HINCRBY', key, ARGV[a + 1], 0 - tonumber(ARGV[a + 2]))
      if left <= 0 then redis.call('HDEL', key, ARGV[a + 1]) end
    end
    k = k + 1
    a = a + 3
  elseif kind == 'f' then
    local reserved = tonumber(ARGV[a + 2])
    if reserved > 0 and redis.call('HEXISTS', KEYS[k + 1], ARGV[a + 1]) == 1 then
      local left = redis.call('HINCRBY', KEYS[k + 1], ARGV[a + 1], 0 - reserved)
      if left <= 0 then redis.call('HDEL', KEYS[k + 1], ARGV[a + 1]) end
    end
    if tonumber(ARGV[a + 3]) > 0 then
      redis.call('INCRBY', KEYS[k], ARGV[a + 3])
      redis.call('PEXPIRE', KEYS[k], ARGV[a + 4])
    end
    k = k + 2
    a = a + 5
  else
    return redis.error_reply('unknown batch operation ' .. tostring(kind))
  end
end
local spec = {}
local limit = {}
local current = {}
local fresh = {}
local found = {}
if m > 0 then found = redis.call('MGET', unpack(KEYS, 1, m)) end
for j = 1, m do
  spec[tostring(j)] = j
  limit[j] = tonumber(ARGV[1 + 2 * j])
  local key = KEYS[j]
  if current[key] == nil then
    if found[j] then
      current[key] = tonumber(found[j])
    else
      current[key] = 0
      fresh[key] = ARGV[2 + 2 * j]
    end
  end
end
local added = {}
local replies = {}
local r = 0
local keys = {}
local amounts = {}
a = 3 + 2 * m
while a < s do
  local n = tonumber(ARGV[a])
  local ok = 1
  for i = 1, n do
    local j = spec[ARGV[a + 2 * i - 1]]
    local key = KEYS[j]
    local v = current[key]
    local amount = tonumber(ARGV[a + 2 * i])
    keys[i] = key
    amounts[i] = amount
    if v + amount > limit[j] then ok = 0 end
  end
  r = r + 1
  replies[r] = ok
  for i = 1, n do
    local key = keys[i]
    if ok == 1 then
      current[key] = current[key] + amounts[i]
      added[key] = (added[key] or 0) + amounts[i]
    end
    r = r + 1
    replies[r] = current[key]
  end
  a = a + 1 + 2 * n
end
for key, amount in pairs(added) do
  redis.call('INCRBY', key, amount)
  if fresh[key] then redis.call('PEXPIRE', key, fresh[key]) end
end
return replies
`;

interface ScriptedRedis {
  defineCommand(name: string, definition: { lua: string }): void;
  [BATCH_COMMAND](numKeys: number, ...args: (string | number)[]): Promise<number[]>;
}

/** A settlement; amounts of one counter (and lease) in one batch are summed. */
interface Settlement {
  kind: 'a' | 'h' | 'f';
  keys: [string] | [string, string];
  lease: string;
  amount: number;
  cost: number;
  ttlMs: number;
}

/** One request's window charge. */
interface Charge {
  /** Per counter: its spec number in the batch (1-based, as sent) and amount. */
  args: (string | number)[];
  /** Counters charged. */
  size: number;
  resolve(reply: number[]): void;
  reject(error: unknown): void;
}

/** A counter charged under one limit in a batch: sent once, named by its number. */
interface Spec {
  key: string;
  limit: number;
  ttlMs: number;
  /** 1-based, as the script numbers them. */
  index: string;
}

/** The operations of one hash tag waiting for the next call. */
class Batch {
  /** `kind keys lease` → settlement. */
  readonly settlements = new Map<string, Settlement>();
  readonly charges: Charge[] = [];
  /** `key limit` → spec. */
  readonly specs = new Map<string, Spec>();
  /** Settles when the call is answered; what every settlement of the batch returns. */
  readonly settled: Promise<void>;
  resolve!: () => void;
  reject!: (error: unknown) => void;

  constructor() {
    this.settled = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Each settlement's caller awaits `settled`; a batch of charges only must not warn.
    this.settled.catch(() => {});
  }

  get size(): number {
    return this.settlements.size + this.charges.length;
  }
}

export interface RedisCallBatcherOptions {
  redis: RedisClient;
  /**
   * How long a settlement may wait for others (`KEYGATE_REDIS_SETTLE_BATCH_MS`); 0 sends at the
   * end of the current event-loop turn. Charges never wait beyond the turn.
   */
  settleWindowMs?: number;
  /** A batch with this many operations is sent at once (a bound on one script's run time). */
  maxOperations?: number;
}

/** Default of `maxOperations`: a few hundred microseconds of script time in Redis at most. */
const MAX_OPERATIONS = 256;

export class RedisCallBatcher {
  private readonly redis: ScriptedRedis;
  private readonly sharded: boolean;
  private readonly settleWindowMs: number;
  private readonly maxOperations: number;
  /** Open batches by hash tag ('' for every group on a single server). */
  private readonly open = new Map<string, Batch>();
  private turnScheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(options: RedisCallBatcherOptions) {
    const redis = options.redis as unknown as ScriptedRedis;
    if (typeof redis[BATCH_COMMAND] !== 'function') redis.defineCommand(BATCH_COMMAND, { lua: BATCH });
    this.redis = redis;
    this.sharded = isCluster(options.redis);
    this.settleWindowMs = options.settleWindowMs ?? 0;
    this.maxOperations = options.maxOperations ?? MAX_OPERATIONS;
  }

  /**
   * Charges every counter of `keys` by its amount if each stays within its limit, else none
   * (`amounts`, `limits`, `ttlMs` per key). Answers {ok (1/0), value per key}, as
   * CounterStore.chargeAll does. Sent at the end of this event-loop turn.
   */
  charge(
    group: string | undefined,
    keys: readonly string[],
    amounts: readonly number[],
    limits: readonly number[],
    ttlMs: readonly number[],
  ): Promise<number[]> {
    const tag = this.tagOf(group);
    const batch = this.batchOf(tag);
    const args: (string | number)[] = [keys.length];
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const limit = limits[i]!;
      const id = `${key} ${limit}`;
      let spec = batch.specs.get(id);
      if (spec === undefined) {
        spec = { key, limit, ttlMs: Math.ceil(ttlMs[i]!), index: String(batch.specs.size + 1) };
        batch.specs.set(id, spec);
      }
      args.push(spec.index, amounts[i]!);
    }
    const answer = new Promise<number[]>((resolve, reject) => {
      batch.charges.push({ args, size: keys.length, resolve, reject });
    });
    if (batch.size >= this.maxOperations) this.send(tag, batch);
    else this.scheduleTurn();
    return answer;
  }

  /** Adds `delta` to a window counter (never below zero; a refund to a missing counter is dropped). */
  adjust(group: string | undefined, key: string, delta: number, ttlMs: number): Promise<void> {
    return this.settle(group, 'a', [key], '', delta, 0, Math.ceil(ttlMs));
  }

  /** Gives back `amount` held slots of the entry of `lease` in a held counter's hash. */
  endHeld(group: string | undefined, key: string, lease: string, amount: number): Promise<void> {
    return this.settle(group, 'h', [key], lease, amount, 0, 0);
  }

  /**
   * Ends a budget reservation on one scope: `reserved` off the entry of `lease` in the
   * reservations hash, `cost` onto the spend counter (kept `spendTtlMs` from now).
   */
  finishSpend(
    group: string | undefined,
    spendKey: string,
    reservedKey: string,
    lease: string,
    reserved: number,
    cost: number,
    spendTtlMs: number,
  ): Promise<void> {
    return this.settle(group, 'f', [spendKey, reservedKey], lease, reserved, cost, spendTtlMs);
  }

  /** Sends what waits now and resolves once every call sent so far has been answered (graceful stop). */
  async flush(): Promise<void> {
    this.sendAll();
    await Promise.allSettled([...this.inFlight]);
  }

  private settle(
    group: string | undefined,
    kind: Settlement['kind'],
    keys: Settlement['keys'],
    lease: string,
    amount: number,
    cost: number,
    ttlMs: number,
  ): Promise<void> {
    const tag = this.tagOf(group);
    const batch = this.batchOf(tag);
    const id = `${kind} ${keys.join(' ')} ${lease}`;
    const known = batch.settlements.get(id);
    if (known === undefined) batch.settlements.set(id, { kind, keys, lease, amount, cost, ttlMs });
    else {
      known.amount += amount;
      known.cost += cost;
      known.ttlMs = Math.max(known.ttlMs, ttlMs);
    }
    const settled = batch.settled;
    if (batch.size >= this.maxOperations) this.send(tag, batch);
    else if (this.settleWindowMs === 0) this.scheduleTurn();
    else this.timer ??= setTimeout(() => this.sendAll(), this.settleWindowMs);
    return settled;
  }

  private tagOf(group: string | undefined): string {
    return this.sharded ? (group ?? '') : '';
  }

  private batchOf(tag: string): Batch {
    let batch = this.open.get(tag);
    if (batch === undefined) {
      batch = new Batch();
      this.open.set(tag, batch);
    }
    return batch;
  }

  private scheduleTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    setImmediate(() => this.sendAll());
  }

  private sendAll(): void {
    this.turnScheduled = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const [tag, batch] of this.open) this.send(tag, batch);
  }

  private send(tag: string, batch: Batch): void {
    this.open.delete(tag);
    const keys: string[] = [];
    const args: (string | number)[] = [batch.specs.size, 0];
    for (const spec of batch.specs.values()) {
      keys.push(spec.key);
      args.push(spec.limit, spec.ttlMs);
    }
    for (const charge of batch.charges) args.push(...charge.args);
    args[1] = args.length + 1;
    for (const op of batch.settlements.values()) {
      if (op.amount === 0 && op.cost === 0) continue;
      keys.push(...op.keys);
      if (op.kind === 'a') args.push('a', op.amount, op.ttlMs);
      else if (op.kind === 'h') args.push('h', op.lease, op.amount);
      else args.push('f', op.lease, op.amount, op.cost, op.ttlMs);
    }
    if (keys.length === 0) {
      batch.resolve();
      return;
    }
    const { charges } = batch;
    const fail = (error: unknown): void => {
      batch.reject(error);
      for (const charge of charges) charge.reject(error);
    };
    let sent: Promise<void>;
    try {
      sent = this.redis[BATCH_COMMAND](keys.length, ...keys, ...args).then((reply) => {
        batch.resolve();
        let at = 0;
        for (const charge of charges) {
          charge.resolve(reply.slice(at, at + 1 + charge.size));
          at += 1 + charge.size;
        }
      }, fail);
    } catch (error) {
      fail(error);
      return;
    }
    this.inFlight.add(sent);
    void sent.finally(() => this.inFlight.delete(sent));
  }
}
