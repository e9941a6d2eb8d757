/**
 * The gateway's request line alone (issue 13, item 13), for counting its instructions: the
 * gateway's own logger (createLogger, buffered stdout) and RequestLog, fed realistic traces, 8
 * lines per event-loop turn (as 8 connections' requests would end). Like decision-count.ts it runs
 * a warm-up of `lines` lines and then `lines` more, so two runs differing only in `lines` differ
 * by exactly 2 × that difference, and start-up, compilation and JIT tiers cancel out:
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p node dist/bench/log-line-count.js \
 *     info 20000 | cat > /dev/null          (then 60000; then both again with warn)
 *   instructions per line = (Ir(60000) − Ir(20000)) / 80,000, info minus warn
 *
 * At warn the same loop runs (traces, metrics sink off) and writes nothing: the difference is
 * what the line costs, building it and writing it (user space; the write(2) calls themselves are
 * counted by `strace -c`, bench/logging-cost.ts).
 *
 * Run: node dist/bench/log-line-count.js info|warn [lines]
 */
import { setImmediate as turn } from 'node:timers/promises';
import { RequestLog } from '../gateway/request-log.js';
import type { LogLevel } from '../src/config/config.js';
import { createLogger } from '../src/logger.js';

const level = process.argv[2] as LogLevel;
if (level !== 'info' && level !== 'warn') throw new Error('usage: log-line-count.js info|warn [lines]');
const lines = Number(process.argv[3] ?? 20_000);

const logger = createLogger(level, 'keygate-gateway', { buffered: true });
const log = new RequestLog(logger, undefined);

async function round(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const trace = log.begin(`9b2f6c1e-5d0a-4c8e-8f3b-${String(100_000_000_000 + i)}`, 'chat');
    trace.keyId = 'key_01JD8ZQ4W9X3M5N7P2R6T8V0YA';
    trace.keyName = 'search-backend';
    trace.teamId = 'team_01JD8ZQ4W9X3M5N7P2R6T8V0YB';
    trace.target = 'bench-model';
    trace.code = 'ok';
    trace.upstreamMs = 1.27 + (i % 7) / 100;
    trace.inputTokens = 9;
    trace.outputTokens = 8;
    trace.costMicros = 6;
    log.end(trace, 200);
    if (i % 8 === 7) await turn();
  }
}

await round(lines);
await round(lines);
await new Promise<void>((resolve) => logger.flush(() => resolve()));
process.stderr.write(`${JSON.stringify({ level, lines })}\n`);
