/**
 * Bounded graceful stop of the gateway's HTTP server (issue 13, fault 3). `wrap` tracks every
 * request in flight; `drain(timeoutMs)`:
 * 1. stops accepting connections and closes the idle keep-alive ones;
 * 2. answers `connection: close` on every response not yet started (and on any request that
 *    still arrives on a busy keep-alive connection), and closes each connection as soon as its
 *    response is done, so steady keep-alive load cannot keep the process alive;
 * 3. lets the requests in flight finish for up to `timeoutMs`;
 * 4. then destroys the rest: each one's client-gone path runs (the upstream call is aborted,
 *    the reservation settled for the input, as for a client that left), and every socket closes.
 * What it did is returned as data (the caller logs it and decides the exit code).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

export interface DrainResult {
  /** Requests in flight when the drain began. */
  inFlightAtStart: number;
  /** Of those (and any that arrived during the drain), finished normally. */
  finished: number;
  /** Destroyed at the deadline. */
  aborted: number;
  /** Milliseconds from the start of the drain until no request was left. */
  drainMs: number;
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

export class ShutdownController {
  private readonly inFlight = new Set<ServerResponse>();
  private draining = false;
  private finishedDuringDrain = 0;
  private onIdle: (() => void) | undefined;

  constructor(private readonly server: Server) {}

  /** Requests currently in flight (metrics). */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** The listener, with every request tracked until its response closes. */
  wrap(listener: Listener): Listener {
    return (req, res) => {
      this.inFlight.add(res);
      if (this.draining) res.setHeader('connection', 'close');
      res.once('close', () => this.done(res));
      listener(req, res);
    };
  }

  async drain(timeoutMs: number): Promise<DrainResult> {
    const started = performance.now();
    this.draining = true;
    const inFlightAtStart = this.inFlight.size;
    this.server.close();
    this.server.closeIdleConnections();
    for (const res of this.inFlight) {
      if (!res.headersSent) res.setHeader('connection', 'close');
    }
    if (this.inFlight.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.onIdle = undefined;
    }
    const aborted = this.inFlight.size;
    for (const res of [...this.inFlight]) res.destroy();
    this.server.closeAllConnections();
    // Let the aborted requests' settle/release hooks run before the caller flushes usage.
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    return {
      inFlightAtStart,
      finished: this.finishedDuringDrain,
      aborted,
      drainMs: Math.round(performance.now() - started),
    };
  }

  private done(res: ServerResponse): void {
    if (!this.inFlight.delete(res)) return;
    if (!this.draining) return;
    if (res.writableFinished) this.finishedDuringDrain++;
    // The connection is idle once this response is done: close it (and any other idle one).
    setImmediate(() => this.server.closeIdleConnections());
    if (this.inFlight.size === 0) this.onIdle?.();
  }
}
