/**
 * Instructions and cache misses per request of the gateway for the hot key and for uniformly
 * random keys of N cached keys (issue 15), counted by valgrind's callgrind, which the machine's
 * load does not change. The bench's admin plane, fixture and mock upstream run natively; only the
 * gateway runs under `valgrind --tool=callgrind --cache-sim=yes` (a 32 MB last-level cache), started
 * with `KEYGATE_PRELOAD_KEYS` = N so every key is cached before the measurement, and with the
 * instrumentation switched on once the preload is done.
 *
 * After a warm-up of both kinds (JIT), each phase zeroes the counters (`callgrind_control -z`),
 * sends `requests` requests over 10 keep-alive connections, and dumps (`callgrind_control -d`);
 * the dump's totals ÷ requests are the figures. Phases alternate hot, random, hot, random. The
 * random keys come from a fixed-seed generator, so two builds see the same order. At valgrind's
 * speed (a few hundred requests per second) nearly every random request meets a key with no
 * counter in the current minute yet, as at high rates over 100,000 keys.
 *
 * Per-function figures: set `KEYGATE_CALLGRIND_OUT=<dir>` to keep the dumps, then `callgrind_annotate`.
 *
 * Run: npm run build && node dist/bench/callgrind-many-keys.js [keys=100000] [requests=1000] [warmup=1000]
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from './args.js';
import { BenchContext } from './context.js';
import { runLoad } from './load.js';
import { CHAT_BODY, CHAT_PATH } from './planes.js';
import { Entrypoints, ProcessGroup, makeTempDir, removeTempDirs } from './processes.js';
import { findRoot } from './run.js';
import { bearer } from './scenarios/gateway-load.js';

const KEYS = Number(process.argv[2] ?? 100_000);
const REQUESTS = Number(process.argv[3] ?? 1_000);
/** Requests of each kind before the first phase (JIT warm-up). */
const WARMUP = Number(process.argv[4] ?? 1_000);
const CONNECTIONS = 10;
const log = (line: string): void => void process.stderr.write(`${line}\n`);

const root = findRoot();
const options = parseArgs(['--keys', String(KEYS), '--no-write']);
const group = new ProcessGroup(new Entrypoints(root), new Entrypoints(root));
const ctx = new BenchContext(options, group, { keys: KEYS, coldKeys: 0, revocationKeys: 0 }, log);
/** `KEYGATE_CALLGRIND_OUT` keeps the dumps there (for callgrind_annotate) instead of a temporary directory. */
const outDir = process.env.KEYGATE_CALLGRIND_OUT ?? makeTempDir('keygate-callgrind-');

/** Deterministic key order (a 32-bit LCG), the same for every build compared. */
function randomPicker(count: number): () => number {
  let state = 0x2545f491;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state % count;
  };
}

interface Totals {
  [event: string]: number;
}

/** The totals of the newest callgrind dump in outDir for `pid`. */
function lastDump(pid: number, before: ReadonlySet<string>): Totals {
  const files = readdirSync(outDir).filter((file) => file.startsWith(`cg.${pid}`) && !before.has(file));
  if (files.length !== 1) throw new Error(`expected one new dump, found ${files.join(', ') || 'none'}`);
  const text = readFileSync(join(outDir, files[0]!), 'utf8');
  const events = /^events: (.+)$/m.exec(text)?.[1]?.split(' ');
  const totals = /^(?:totals|summary): (.+)$/m.exec(text)?.[1]?.split(' ').map(Number);
  if (events === undefined || totals === undefined) throw new Error(`no totals in ${files[0]}`);
  return Object.fromEntries(events.map((event, i) => [event, totals[i] ?? 0]));
}

function control(flag: '-z' | '-d' | '--instr=on', pid: number): void {
  execFileSync('callgrind_control', [flag, String(pid)], { stdio: 'ignore', timeout: 600_000 });
}

try {
  const planes = await ctx.planes();
  const secrets = planes.warmKeys.map((key) => key.secret);
  log(`restarting the gateway under callgrind with ${KEYS} keys to preload`);
  await planes.restartGateway(
    { KEYGATE_PRELOAD_KEYS: String(KEYS) },
    {
      command: [
        'valgrind',
        '--tool=callgrind',
        '--cache-sim=yes',
        // A 32 MB last-level cache (this VM reports a bogus 512 MB L3, which nothing would miss).
        '--LL=33554432,16,64',
        // Instrumentation (and the cache simulation) is switched on after the preload: ~10x faster.
        '--instr-atstart=no',
        `--callgrind-out-file=${join(outDir, 'cg.%p')}`,
      ],
      startTimeoutMs: 600_000,
    },
  );
  const pid = planes.gatewayChild.pid;
  for (let done = false, polls = 0; !done; polls++) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    try {
      const answer = await fetch(`${planes.gatewayUrl}/readyz`);
      const body = (await answer.json()) as { preload?: { done: boolean; cached: number } };
      done = body.preload?.done === true;
      if (done || polls % 15 === 0) log(`  preload: ${body.preload?.cached ?? 0} keys`);
    } catch {
      // A slow gateway may drop an idle keep-alive connection: ask again.
    }
  }

  control('--instr=on', pid);
  const pick = randomPicker(secrets.length);
  const load = async (kind: 'hot' | 'random', amount: number, warmup = false): Promise<void> => {
    const result = await runLoad({
      origin: planes.gatewayUrl,
      path: CHAT_PATH,
      method: 'POST',
      body: CHAT_BODY,
      perRequest: () => bearer(kind === 'hot' ? planes.hotKey : secrets[pick()]!),
      connections: CONNECTIONS,
      durationS: 3_600,
      amount,
      expectedStatus: 200,
      timeoutS: 300,
    });
    if (!warmup && (result.errors > 0 || result.requests !== amount))
      throw new Error(`${kind}: ${result.errors} errors in ${result.requests} requests`);
  };
  log('warm-up');
  await load('hot', WARMUP, true);
  await load('random', WARMUP, true);

  const rows: string[] = [];
  for (const kind of ['hot', 'random', 'hot', 'random'] as const) {
    control('-z', pid);
    await load(kind, REQUESTS);
    const before = new Set(readdirSync(outDir));
    control('-d', pid);
    const totals = lastDump(pid, before);
    const per = (event: string): string =>
      Math.round((totals[event] ?? 0) / REQUESTS).toLocaleString('en-US');
    const row =
      `${kind.padEnd(6)} Ir ${per('Ir')}  D1 misses ${per('D1mr')} r + ${per('D1mw')} w  ` +
      `LL misses ${per('DLmr')} r + ${per('DLmw')} w  I1 misses ${per('I1mr')}  (per request)`;
    log(row);
    rows.push(row);
  }
  console.log(
    `# ${KEYS} keys, ${REQUESTS} requests per phase, ${CONNECTIONS} connections\n${rows.join('\n')}`,
  );
} finally {
  await ctx.close();
  removeTempDirs();
}
