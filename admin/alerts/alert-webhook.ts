/**
 * Soft-budget alerts to `KEYGATE_ALERT_WEBHOOK_URL` (issue 14 item 2): a JSON POST per alert,
 * signed with HMAC-SHA256 (`KEYGATE_ALERT_WEBHOOK_SECRET`) over `<timestamp>.<body>` in
 * `x-keygate-signature: t=<unix seconds>,v1=<hex>` (the receiver recomputes it and checks the
 * timestamp is recent), retried with exponential backoff on a network error, a 429 or a 5xx
 * (`maxAttempts`, `baseDelayMs` doubling). The alert is already audited in the transaction that
 * raised it; delivery never blocks the usage report, and a final failure is logged.
 */
import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../../src/clock.js';
import type { AlertSink } from '../context.js';
import type { SoftBudgetAlert } from '../internal/apply-usage.js';

export interface AlertWebhookOptions {
  url: string;
  secret: string;
  clock: Clock;
  logger: Logger;
  maxAttempts?: number;
  baseDelayMs?: number;
  /** Waits between attempts (tests pass one that records the delays). */
  sleep?: (ms: number) => Promise<void>;
}

export function signature(secret: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

export class AlertWebhook implements AlertSink {
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly options: AlertWebhookOptions) {}

  send(alert: SoftBudgetAlert): void {
    const delivery = this.deliver(alert).finally(() => this.pending.delete(delivery));
    this.pending.add(delivery);
  }

  /** Resolves when every delivery started so far has finished (tests, graceful stop). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private async deliver(alert: SoftBudgetAlert): Promise<void> {
    const { url, secret, clock, logger } = this.options;
    const maxAttempts = this.options.maxAttempts ?? 5;
    const baseDelayMs = this.options.baseDelayMs ?? 500;
    const sleep = this.options.sleep ?? ((ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const body = JSON.stringify(alert);
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      let status: number | string;
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-keygate-signature': signature(secret, Math.floor(clock.now() / 1000), body),
            'x-keygate-delivery-attempt': String(attempt),
          },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        await response.arrayBuffer();
        if (response.ok) return;
        status = response.status;
        if (status !== 429 && status < 500) break;
      } catch (error) {
        status = error instanceof Error ? error.message : String(error);
      }
      if (attempt < maxAttempts) await sleep(baseDelayMs * 2 ** (attempt - 1));
      else logger.warn({ alert, status }, 'soft-budget alert webhook failed; giving up');
    }
  }
}
