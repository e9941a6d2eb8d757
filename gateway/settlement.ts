/**
 * The one owner of an admitted request's ticket: exactly one of its ends runs, once.
 * - `settled(usage)`: the upstream answered; real usage (or, when it gave none, the input
 *   estimate and the output a stream delivered) replaces the reservation and is recorded for the
 *   usage report;
 * - `failed()`: the upstream failed, nothing was served: the reservation is released;
 * - `aborted()`: the client went away before any output: the input estimate is charged;
 * - `cut(delivered)`: a stream ended early (the upstream broke it, or the client left): the input
 *   estimate and the output already delivered are charged.
 * The proxy holds it in a `try/finally`: `close()` releases a ticket that nothing ended and no
 * stream took over, so a thrown error at any step after admission can never leak a reservation
 * (issue 10, item 1). An SSE pipe calls `streamTakesOver()` once its listeners are attached and
 * then owns the end.
 */
import type { Admission, AdmissionTicket, Usage } from '../src/policy/admission.js';

export interface SettlementDeps {
  admission: Admission;
  /** Books an ended request for the usage report (after settle or abort). */
  record(usage: Usage, costMicros: number): void;
  onError(error: unknown): void;
}

export class Settlement {
  private state: 'open' | 'streaming' | 'ended' = 'open';

  constructor(
    private readonly deps: SettlementDeps,
    private readonly ticket: AdmissionTicket,
    private readonly estimatedInputTokens: number,
  ) {}

  get ended(): boolean {
    return this.state === 'ended';
  }

  /**
   * `deliveredOutputTokens`: charged when the upstream reported no usage: what a stream delivered,
   * or the estimate of a whole answer's generated text (request-estimate.ts).
   */
  settled(usage: Usage | undefined, deliveredOutputTokens = 0): void {
    if (!this.end()) return;
    const actual = usage ?? { inputTokens: this.estimatedInputTokens, outputTokens: deliveredOutputTokens };
    this.book(() => this.deps.admission.settle(this.ticket, actual), actual);
  }

  failed(): void {
    if (!this.end()) return;
    this.guard(() => this.deps.admission.release(this.ticket));
  }

  aborted(): void {
    if (!this.end()) return;
    this.book(() => this.deps.admission.abort(this.ticket), {
      inputTokens: this.estimatedInputTokens,
      outputTokens: 0,
    });
  }

  /**
   * A stream ended early after part of the answer reached the client: the upstream broke it
   * (issue 13, fault 6), or the client left. The input estimate and the output already delivered
   * are charged: a client leaving just before the usage event (which comes last) otherwise got
   * the whole answer for its input estimate, past its budget and token windows.
   */
  cut(deliveredOutputTokens: number): void {
    if (!this.end()) return;
    const usage = { inputTokens: this.estimatedInputTokens, outputTokens: deliveredOutputTokens };
    this.book(() => this.deps.admission.settle(this.ticket, usage), usage);
  }

  streamTakesOver(): void {
    if (this.state === 'open') this.state = 'streaming';
  }

  /** The proxy's `finally`: a ticket still open here is released. */
  close(): void {
    if (this.state === 'open') this.failed();
  }

  private end(): boolean {
    if (this.state === 'ended') return false;
    this.state = 'ended';
    return true;
  }

  private book(charge: () => Promise<{ costMicros: number }>, usage: Usage): void {
    this.guard(() => charge().then(({ costMicros }) => this.deps.record(usage, costMicros)));
  }

  private guard(run: () => Promise<unknown>): void {
    try {
      run().catch((error: unknown) => this.deps.onError(error));
    } catch (error) {
      this.deps.onError(error);
    }
  }
}
