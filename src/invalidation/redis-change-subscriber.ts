/**
 * A gateway's subscription to the admin plane's Redis pub/sub invalidations (scale-out mode).
 * A message only says "the change log moved": the follower pulls the change feed (an
 * authenticated internal call) and applies what the feed says. The message itself is never
 * applied: pub/sub is not authenticated, and anyone able to PUBLISH on the Redis server could
 * otherwise hand the follower a forged change of the next seq, which the real change of that seq
 * (a revocation) would then be skipped as (seen: a forged message suppressed a revocation for
 * good). The cost is one feed read per message, coalesced by the follower's serialized pulls.
 *
 * Every time the subscription connects (first start and each reconnection after Redis was
 * unreachable) it subscribes first and then pulls the change feed, and only then counts as live:
 * messages published while it was disconnected are lost for good in pub/sub, and pulling after
 * the subscription is active leaves no gap between what the pull read and what the channel
 * brings. The periodic pull stays the backstop either way.
 */
import type { Logger } from 'pino';
import type { RedisClient } from '../ratelimit/redis-connection.js';
import { changesChannel } from './redis-invalidation-bus.js';

/** What the subscriber needs of the ChangeFollower. */
export interface ChangeReceiver {
  pull(): Promise<void>;
}

export class RedisChangeSubscriber {
  private readonly channel: string;
  private connected = false;
  private everLive = false;
  private stopped = false;
  /** Epoch ms of the last (re)subscription whose catch-up pull succeeded. */
  liveSince: number | undefined;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly follower: ChangeReceiver,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {
    this.channel = changesChannel(prefix);
  }

  /** True while subscribed and caught up (readiness and tests). */
  get live(): boolean {
    return this.connected && this.liveSince !== undefined;
  }

  start(): void {
    this.redis.on('message', (channel: string) => {
      if (channel !== this.channel) return;
      this.follower.pull().catch((error: unknown) => {
        this.logger.warn(
          { err: error },
          'change-feed pull after a Redis invalidation failed; the periodic pull repairs it',
        );
      });
    });
    this.redis.on('ready', () => void this.catchUp());
    this.redis.on('close', () => {
      if (this.connected)
        this.logger.warn('Redis subscription lost; relying on the change-feed pull until it returns');
      this.connected = false;
      this.liveSince = undefined;
    });
    if (this.redis.status === 'ready') void this.catchUp();
  }

  stop(): void {
    this.stopped = true;
    this.redis.disconnect();
  }

  private async catchUp(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.redis.subscribe(this.channel);
      this.connected = true;
      await this.follower.pull();
      this.liveSince = this.now();
      if (this.everLive) this.logger.info('Redis subscription back; change feed pulled');
      this.everLive = true;
    } catch (error) {
      // The next 'ready' (or the periodic pull) tries again.
      this.logger.warn({ err: error }, 'Redis subscription catch-up failed');
    }
  }
}
