/** pino logger of both planes. Secrets never reach it: keys are logged only as hashes or display forms. */
import pino, { type Logger } from 'pino';
import type { LogLevel } from './config/config.js';

export function createLogger(level: LogLevel, name: string, options: { buffered?: boolean } = {}): Logger {
  const settings = {
    name,
    level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'secret', '*.secret'],
      censor: '[redacted]',
    },
  };
  // Buffered: asynchronous writes; lines logged while one write is in flight go out together in
  // the next (under load, one write per many lines). `logger.flush()` before exit.
  if (options.buffered === true) return pino(settings, pino.destination({ dest: 1, sync: false }));
  return pino(settings);
}
