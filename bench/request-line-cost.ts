/**
 * Instructions one request line costs, alone (issue 13, item 13): the gateway's RequestLog and
 * its stdout writer (logger.ts, as the gateway creates them) in a process of their own under
 * callgrind, the same loop of begin/end at warn (no line) and at info, 8 requests per event-loop
 * turn as with 8 busy connections, the writes completing in between. The difference, divided by
 * the lines, is what a line costs; bench/logging-cost.ts measures the whole gateway, whose
 * figures vary by more than a line's cost on a loaded machine (TurboFan and major GCs landing in
 * the window). Run after `npm run build`:
 *
 *   node dist/bench/request-line-cost.js [--sink file|pipe|both] [--warmup 20000] [--lines 20000] [--keep DIR]
 *
 * `--keep DIR` keeps the callgrind dumps there (callgrind_annotate reads them).
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';
import { RequestLog } from '../gateway/request-log.js';
import { createLogger } from '../src/logger.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1]! : fallback;
};
const warmup = Number(flag('warmup', '20000'));
const lines = Number(flag('lines', '20000'));
const keep = flag('keep', '');

/** The measured process: `lines` requests after `warmup`, told when to start over stdin. */
async function child(level: 'warn' | 'info'): Promise<void> {
  const log = new RequestLog(createLogger(level, 'keygate-gateway', { buffered: true }), undefined);
  const ids = Array.from({ length: 1024 }, () => randomUUID());
  const requests = async (count: number): Promise<void> => {
    for (let i = 0; i < count; i += 8) {
      for (let j = 0; j < 8; j++) {
        const trace = log.begin(ids[(i + j) % ids.length]!, 'chat');
        trace.keyId = 'key_01JDQ3V9Z8E2M4N6P8R0T2V4X6';
        trace.keyName = 'hot';
        trace.teamId = 'team_01JDQ3V9Z8E2M4N6P8R0T2V4X7';
        trace.target = 'bench-model';
        trace.code = 'ok';
        trace.upstreamMs = Math.round(((i + j) % 997) * 1.37) / 100;
        trace.inputTokens = 12;
        trace.outputTokens = 16;
        trace.costMicros = 11;
        log.end(trace, 200);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  const told = (): Promise<void> => new Promise((resolve) => process.stdin.once('data', () => resolve()));
  await requests(warmup);
  writeSync(3, 'ready\n');
  await told();
  await requests(lines);
  await new Promise((resolve) => setTimeout(resolve, 200)); // the last write completes
  writeSync(3, 'done\n');
  await told();
  process.exit(0);
}

/** Runs a command to its end. */
const run = (command: string, argv: string[]): void => {
  const result = spawnSync(command, argv, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (result.status !== 0) throw new Error(`${command} exited ${result.status}`);
};

/** Instructions per line of one measured process (all of it, and without TurboFan's threads). */
async function measure(sink: 'file' | 'pipe', level: 'warn' | 'info', dir: string) {
  const script = fileURLToPath(import.meta.url);
  let drain: ReturnType<typeof spawn> | undefined;
  let stdout: number | Writable;
  if (sink === 'file') stdout = openSync(join(dir, `${level}.log`), 'w');
  else {
    drain = spawn('cat', [], { stdio: ['pipe', 'ignore', 'inherit'] });
    stdout = drain.stdin!;
  }
  const measured = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--instr-atstart=no',
      `--callgrind-out-file=${join(dir, `cg.${sink}.${level}.%p`)}`,
      process.execPath,
      script,
      '--child',
      level,
      '--warmup',
      String(warmup),
      '--lines',
      String(lines),
    ],
    { stdio: ['pipe', stdout, 'ignore', 'pipe'] },
  );
  if (typeof stdout === 'number') closeSync(stdout);
  else drain!.stdin!.destroy();
  const control = measured.stdio[3]!;
  const next = (): Promise<void> => new Promise((resolve) => control.once('data', () => resolve()));
  const pid = String(measured.pid);
  await next();
  run('callgrind_control', ['-i', 'on', pid]);
  run('callgrind_control', ['-z', pid]);
  measured.stdin!.write('go\n');
  await next();
  run('callgrind_control', ['-d', pid]);
  const exited = new Promise((resolve) => measured.once('exit', resolve));
  measured.stdin!.write('exit\n');
  await exited;
  const dump = join(
    dir,
    readdirSync(dir).find((f) => f.startsWith(`cg.${sink}.${level}.${pid}.`))!,
  );
  if (keep !== '') copyFileSync(dump, join(keep, `${sink}-${level}.callgrind`));
  const total = Number(/^(?:summary|totals): (\d+)/m.exec(readFileSync(dump, 'utf8'))![1]);
  const annotated = spawnSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', dump], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  }).stdout;
  const line = annotated
    .split('\n')
    .find((l) => l.includes('OptimizingCompileDispatcher::CompileTask::RunInternal'));
  const turbofan = line === undefined ? 0 : Number(line.trim().split(' ')[0]!.replaceAll(',', ''));
  return { all: total / lines, withoutTurbofan: (total - turbofan) / lines };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-line-'));
  if (keep !== '') mkdirSync(keep, { recursive: true });
  const sinks =
    flag('sink', 'both') === 'both' ? (['file', 'pipe'] as const) : [flag('sink', 'file') as 'file'];
  try {
    for (const sink of sinks) {
      const warn = await measure(sink, 'warn', dir);
      const info = await measure(sink, 'info', dir);
      const show = (n: number) => Math.round(n).toLocaleString('en-US');
      process.stdout.write(
        `${sink}: per request, warn ${show(warn.all)} (${show(warn.withoutTurbofan)} without TurboFan), ` +
          `info ${show(info.all)} (${show(info.withoutTurbofan)}): one line costs ${show(info.all - warn.all)} ` +
          `(${show(info.withoutTurbofan - warn.withoutTurbofan)} without TurboFan) instructions\n`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (args[0] === '--child') await child(args[1] as 'warn' | 'info');
else await main();
