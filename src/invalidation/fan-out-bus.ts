/**
 * Several InvalidationBus implementations as one: the admin plane in Redis mode publishes every
 * change batch both over HTTP pushes (to the gateways listed in KEYGATE_GATEWAY_URLS, if any) and
 * on the Redis channel (to every subscribed replica).
 */
import type { ChangeBatch } from './change.js';
import type { InvalidationBus } from './invalidation-bus.js';

export class FanOutBus implements InvalidationBus {
  constructor(private readonly buses: readonly InvalidationBus[]) {}

  publish(batch: ChangeBatch): void {
    for (const bus of this.buses) bus.publish(batch);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.buses.map((bus) => bus.close()));
  }
}
