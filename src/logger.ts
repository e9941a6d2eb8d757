/** pino logger of both planes. Secrets never reach it: keys are logged only as hashes or display forms. */
import pino, { type Logger } from 'pino';
import type { LogLevel } from './config/config.js';
import { BufferedWriter } from './buffered-stdout.js';

/**
 * The gateway's buffered stdout (issue 13, item 13: one line per request must cost ≤ 5 % of
 * hot-key throughput). Lines wait until 3 KiB are buffered or 100 ms passed, then go out in one
 * asynchronous write (a slow log reader never blocks the event loop): about one write(2) per ten
 * request lines under load, where one per line, each a thread-pool round trip, cost ~1.4 system
 * calls per request (bench/README.md "Logging cost"). Each write is at most 4 KiB of whole lines
 * (PIPE_BUF), so the lines of several workers sharing one pipe never interleave. Up to 16 MiB of
 * unwritten lines are kept for a reader that stopped reading; lines beyond that are dropped.
 * What a stop can lose: nothing on SIGTERM/SIGINT (the gateway flushes before exit; an `exit`
 * listener writes the rest synchronously on any `process.exit`), at most the buffer (< 3 KiB,
 * ≤ 100 ms of lines) on kill -9. The writer is BufferedWriter (buffered-stdout.ts), not pino's
 * sonic-boom: lines go straight into preallocated 4 KiB chunks (~5,000 fewer instructions per
 * request line, callgrind).
 */
export const BUFFERED_STDOUT = {
  minLength: 3 * 1024,
  maxWrite: 4 * 1024,
  periodicFlush: 100,
  maxLength: 16 * 1024 * 1024,
} as const;

export function createLogger(level: LogLevel, name: string, options: { buffered?: boolean } = {}): Logger {
  const settings = {
    name,
    level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'secret', '*.secret'],
      censor: '[redacted]',
    },
  };
  if (options.buffered === true) {
    const stdout = new BufferedWriter(1, BUFFERED_STDOUT);
    process.once('exit', () => stdout.flushSync());
    return pino(settings, stdout);
  }
  return pino(settings);
}
