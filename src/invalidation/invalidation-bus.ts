/**
 * How committed changes reach the gateways (DESIGN.md "Invalidation"). The admin plane calls
 * `publish` once per committed mutation that wrote change-log rows, right after the commit, with
 * exactly those rows, so no bus has to read the database again. A bus never blocks the caller and
 * never throws: a lost message is repaired by the gateways' periodic pull of the change feed.
 *
 * Implementations: HTTP push to configured gateways (admin/push/change-pusher.ts); Redis pub/sub
 * is the planned second one (scale-out).
 */
import type { ChangeBatch } from './change.js';

export interface InvalidationBus {
  /** `batch.changes` in seq order, `batch.seq` the last of them. */
  publish(batch: ChangeBatch): void;
  /** Waits for deliveries in flight, then releases connections; nothing is published after. */
  close(): Promise<void>;
}
