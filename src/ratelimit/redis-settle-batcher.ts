/**
 * The ends of admitted requests in Redis mode, coalesced: window adjustments (the token settle,
 * refunds), parallel slots given back, and budget reservations settled or released, of every
 * request that ends within one batch window, go to Redis as ONE script call per hash tag (the
 * org id; on a single server, one call for all orgs), instead of one call per request and store.
 * Both Redis stores of a process share one batcher (gateway/redis-mode.ts), so a request's window
 * and spend settlements travel together. On a hot key this removes most of the second Redis call
 * per request (bench/redis-cost.ts; issue 12's Redis ÷ memory target).
 *
 * What it keeps:
 * - Exactness: each operation has the semantics of the single-call scripts it replaces (window
 *   counters never below zero and a refund to a missing counter dropped; slots and reservations
 *   taken off only the entry of their own lease; spend only ever added). Operations on one counter
 *   within a batch are summed first, which is what applying them one after another gives (a sum of
 *   concurrent settlements has no order), except that a counter is clamped at zero once instead of
 *   after each; every amount given back was taken before, so the clamp only matters for windows
 *   that expired meanwhile.
 * - Timing: a settlement reaches Redis at most `windowMs` later than it would alone (0: at the end
 *   of the current event-loop turn, so only settlements started in the same turn share a call).
 *   Settlements already run after the answer was sent, off the response path; meanwhile the
 *   request's reservation keeps guarding its windows and budgets (a delay can refuse
 *   conservatively, and a settlement that adds tokens beyond the reservation lands that much
 *   later: the same bound as today's settle after the upstream answered).
 * - Failures: a batch that fails (Redis down, timeout) rejects every operation in it, so each
 *   caller handles it as it handled its own failed call: the stores retire the lease of a slot or
 *   reservation they could not give back (reservation-leases.ts).
 * - Cluster: a script touches one slot only; operations are grouped by their hash tag, and each
 *   group's keys all carry it.
 */
import { isCluster, type RedisClient } from './redis-connection.js';

/**
 * KEYS: the counters, in the order the operations use them. ARGV: per operation a kind, then:
 * - `a` (window adjust, 1 key): delta, ttlMs. Never below zero; a refund to a missing counter is dropped.
 * - `h` (held slots given back, 1 key: the scope's hash): lease name, amount. Only that lease's entry.
 * - `f` (budget settle, 2 keys: spend, reservations): lease name, reserved, cost, spend ttlMs. The
 *   lease's reservation entry goes down by `reserved` (removed at zero; nothing when it was freed
 *   meanwhile), the spend up by `cost`.
 */
const SETTLE = `
local k = 1
local a = 1
while a <= #ARGV do
  local kind = ARGV[a]
  if kind == 'a' then
    local key = KEYS[k]
    local delta = tonumber(ARGV[a + 1])
    local current = redis.call('GET', key)
    if current then
      local value = tonumber(current) + delta
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
    return redis.error_reply('unknown settle operation ' .. tostring(kind))
  end
end
return 0
`;

interface ScriptedRedis {
  defineCommand(name: string, definition: { lua: string }): void;
  keygateSettle1(numKeys: number, ...args: (string | number)[]): Promise<number>;
}

/** One batch of one hash tag: operations merged per counter (and lease), in arrival order. */
class Batch {
  /** `kind key [lease]` → operation (amounts summed, the longest ttl kept). */
  readonly ops = new Map<string, Op>();
  readonly done: Promise<void>;
  resolve!: () => void;
  reject!: (error: unknown) => void;

  constructor() {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Every operation's caller awaits `done`; this only keeps a batch nobody awaits any more quiet.
    this.done.catch(() => {});
  }
}

interface Op {
  kind: 'a' | 'h' | 'f';
  keys: [string] | [string, string];
  lease: string;
  amount: number;
  cost: number;
  ttlMs: number;
}

export interface RedisSettleBatcherOptions {
  redis: RedisClient;
  /**
   * How long a settlement may wait for others (`KEYGATE_REDIS_SETTLE_BATCH_MS`); 0 sends at the
   * end of the current event-loop turn.
   */
  windowMs?: number;
  /** A batch this large is sent at once (a bound on one script's run time in Redis). */
  maxOperations?: number;
}

/** Default of `maxOperations`: a few hundred microseconds of script time in Redis at most. */
const MAX_OPERATIONS = 256;

export class RedisSettleBatcher {
  private readonly redis: ScriptedRedis;
  private readonly sharded: boolean;
  private readonly windowMs: number;
  private readonly maxOperations: number;
  /** Open batches by hash tag ('' for every group on a single server). */
  private readonly open = new Map<string, Batch>();
  private scheduled = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(options: RedisSettleBatcherOptions) {
    const redis = options.redis as unknown as ScriptedRedis;
    if (typeof redis.keygateSettle1 !== 'function') redis.defineCommand('keygateSettle1', { lua: SETTLE });
    this.redis = redis;
    this.sharded = isCluster(options.redis);
    this.windowMs = options.windowMs ?? 0;
    this.maxOperations = options.maxOperations ?? MAX_OPERATIONS;
  }

  /** Adds `delta` to a window counter (never below zero; a refund to a missing counter is dropped). */
  adjust(group: string | undefined, key: string, delta: number, ttlMs: number): Promise<void> {
    return this.add(group, 'a', [key], '', delta, 0, Math.ceil(ttlMs));
  }

  /** Gives back `amount` held slots of the entry of `lease` in a held counter's hash. */
  endHeld(group: string | undefined, key: string, lease: string, amount: number): Promise<void> {
    return this.add(group, 'h', [key], lease, amount, 0, 0);
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
    return this.add(group, 'f', [spendKey, reservedKey], lease, reserved, cost, spendTtlMs);
  }

  /** Sends what waits now and resolves once every batch sent so far has been answered (graceful stop). */
  async flush(): Promise<void> {
    this.sendAll();
    await Promise.allSettled([...this.inFlight]);
  }

  private add(
    group: string | undefined,
    kind: Op['kind'],
    keys: Op['keys'],
    lease: string,
    amount: number,
    cost: number,
    ttlMs: number,
  ): Promise<void> {
    const tag = this.sharded ? (group ?? '') : '';
    let batch = this.open.get(tag);
    if (batch === undefined) {
      batch = new Batch();
      this.open.set(tag, batch);
    }
    const id = `${kind} ${keys.join(' ')} ${lease}`;
    const op = batch.ops.get(id);
    if (op === undefined) batch.ops.set(id, { kind, keys, lease, amount, cost, ttlMs });
    else {
      op.amount += amount;
      op.cost += cost;
      op.ttlMs = Math.max(op.ttlMs, ttlMs);
    }
    const done = batch.done;
    if (batch.ops.size >= this.maxOperations) this.send(tag, batch);
    else this.schedule();
    return done;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.windowMs > 0) setTimeout(() => this.sendAll(), this.windowMs);
    else setImmediate(() => this.sendAll());
  }

  private sendAll(): void {
    this.scheduled = false;
    for (const [tag, batch] of this.open) this.send(tag, batch);
  }

  private send(tag: string, batch: Batch): void {
    this.open.delete(tag);
    const keys: string[] = [];
    const args: (string | number)[] = [];
    for (const op of batch.ops.values()) {
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
    let sent: Promise<void>;
    try {
      sent = this.redis.keygateSettle1(keys.length, ...keys, ...args).then(
        () => batch.resolve(),
        (error: unknown) => batch.reject(error),
      );
    } catch (error) {
      batch.reject(error);
      return;
    }
    this.inFlight.add(sent);
    void sent.finally(() => this.inFlight.delete(sent));
  }
}
