/** pino logger of both planes. Secrets never reach it: keys are logged only as hashes or display forms. */
import pino, { type Logger } from 'pino';
import type { LogLevel } from './config/config.js';

export function createLogger(level: LogLevel, name: string): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'secret', '*.secret'],
      censor: '[redacted]',
    },
  });
}
