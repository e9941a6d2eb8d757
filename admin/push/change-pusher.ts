/**
 * Pushes the change-log rows published after each commit to every configured gateway (`POST /internal/invalidate`),
 * in seq order per gateway, without ever blocking an admin response. A lost push is not
 * retried here: gateways pull the change feed periodically and repair the gap themselves.
 *
 * Latency matters here (a revoked key must be refused within milliseconds, DESIGN.md
 * "Invalidation"), so each gateway gets one keep-alive undici Client (no global fetch, no new
 * connection per push), the push leaves in the microtask after the commit, and while a push to
 * a gateway is in flight the changes committed meanwhile are coalesced into the next one
 * (one request per round trip, never a queue of stale batches behind a slow gateway).
 */
import type { Logger } from 'pino';
import { Client } from 'undici';
import type { Change, ChangeBatch } from '../../src/invalidation/change.js';
import type { InternalTokens } from '../../src/invalidation/internal-token.js';
import type { InvalidationBus } from '../../src/invalidation/invalidation-bus.js';

const PUSH_TIMEOUT_MS = 2000;
/** Changes waiting for one gateway beyond this are dropped (oldest first): its pull repairs them. */
const MAX_PENDING_CHANGES = 10_000;

/** One gateway: its connection and the changes not yet sent to it. */
interface PushTarget {
  url: string;
  path: string;
  client: Client;
  pending: Change[];
  sending: Promise<void> | undefined;
}

export interface HttpInvalidationBusOptions {
  /** Per-push timeout (connect, headers, body); default 2 s. */
  timeoutMs?: number;
}

/** The InvalidationBus of a single admin plane: HTTP push to each configured gateway. */
export class HttpInvalidationBus implements InvalidationBus {
  private readonly targets: PushTarget[];
  /** Published in the current task, not yet handed to the targets. */
  private published: Change[] = [];
  private closed = false;
  private readonly timeoutMs: number;

  constructor(
    gatewayUrls: readonly string[],
    private readonly tokens: InternalTokens,
    private readonly logger: Logger,
    options: HttpInvalidationBusOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? PUSH_TIMEOUT_MS;
    this.targets = gatewayUrls.map((raw) => {
      const url = new URL(raw);
      return {
        url: raw,
        path: `${url.pathname.replace(/\/+$/, '')}/internal/invalidate`,
        client: new Client(url.origin, {
          pipelining: 1,
          connectTimeout: this.timeoutMs,
          headersTimeout: this.timeoutMs,
          bodyTimeout: this.timeoutMs,
        }),
        pending: [],
        sending: undefined,
      };
    });
  }

  /** Queues the batch; everything published in one task leaves together right after it. */
  publish(batch: ChangeBatch): void {
    if (this.targets.length === 0 || this.closed || batch.changes.length === 0) return;
    const first = this.published.length === 0;
    for (const change of batch.changes) this.published.push(change);
    if (first) queueMicrotask(() => this.hand());
  }

  private hand(): void {
    const changes = this.published;
    if (changes.length === 0) return;
    this.published = [];
    for (const target of this.targets) {
      for (const change of changes) target.pending.push(change);
      if (target.pending.length > MAX_PENDING_CHANGES)
        target.pending.splice(0, target.pending.length - MAX_PENDING_CHANGES);
      target.sending ??= this.sendPending(target);
    }
  }

  /** Sends everything pending for one gateway, one request at a time, coalescing what queued up. */
  private async sendPending(target: PushTarget): Promise<void> {
    try {
      while (target.pending.length > 0) {
        const changes = target.pending.splice(0);
        await this.send(target, { seq: changes[changes.length - 1]!.seq, changes });
      }
    } finally {
      target.sending = undefined;
    }
  }

  private async send(target: PushTarget, batch: ChangeBatch): Promise<void> {
    try {
      const response = await target.client.request({
        method: 'POST',
        path: target.path,
        headers: {
          'content-type': 'application/json',
          authorization: await this.tokens.authorizationHeader(),
        },
        body: JSON.stringify(batch),
      });
      await response.body.dump();
      if (response.statusCode >= 300)
        this.logger.warn(
          { url: target.url, status: response.statusCode, seq: batch.seq },
          'invalidation push refused',
        );
    } catch (error) {
      this.logger.warn(
        { url: target.url, seq: batch.seq, err: (error as Error).message },
        'invalidation push failed; the gateway will pull',
      );
    }
  }

  /** Waits for in-flight pushes, then closes the connections (graceful stop; no push after it). */
  async close(): Promise<void> {
    this.hand();
    this.closed = true;
    await Promise.all(this.targets.map((target) => target.sending));
    await Promise.allSettled(this.targets.map((target) => target.client.close()));
  }
}
