/**
 * The admin plane's Redis pub/sub InvalidationBus (scale-out mode): every committed change batch
 * is published on `<prefix>changes`, so gateway replicas receive invalidations without being
 * listed in KEYGATE_GATEWAY_URLS (they subscribe, see redis-change-subscriber.ts). On Redis
 * Cluster a PUBLISH reaches the subscribers of every node.
 *
 * Like every bus it never blocks the caller and never throws: a message lost while Redis is down
 * is repaired by the gateways' pull of the change feed (they also pull when their subscription
 * comes back). The message is the batch as JSON, exactly the body of an HTTP push.
 */
import type { Logger } from 'pino';
import type { RedisClient } from '../ratelimit/redis-connection.js';
import type { ChangeBatch } from './change.js';
import type { InvalidationBus } from './invalidation-bus.js';

export function changesChannel(prefix: string): string {
  return `${prefix}changes`;
}

export class RedisInvalidationBus implements InvalidationBus {
  private readonly channel: string;
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;
  private failing = false;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly logger: Logger,
  ) {
    this.channel = changesChannel(prefix);
  }

  publish(batch: ChangeBatch): void {
    if (this.closed || batch.changes.length === 0) return;
    const sent = this.redis.publish(this.channel, JSON.stringify(batch)).then(
      () => {
        if (this.failing) this.logger.info('Redis pub/sub reachable again: invalidations published');
        this.failing = false;
      },
      (error: unknown) => {
        // Logged once per outage; gateways pull the feed meanwhile.
        if (!this.failing)
          this.logger.warn(
            { err: error },
            'Redis publish failed; gateways repair by pulling the change feed',
          );
        this.failing = true;
      },
    );
    this.inFlight.add(sent);
    void sent.finally(() => this.inFlight.delete(sent));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    this.redis.disconnect();
  }
}
