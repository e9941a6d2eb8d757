/**
 * All cores of one host: `KEYGATE_GATEWAY_WORKERS=N` (or `keygate gateway --workers N`) makes the
 * gateway process a node:cluster primary that forks N gateway workers sharing one listening port
 * (the primary hands out connections). Limits stay exact only because every worker charges the
 * same Redis counters: N > 1 without REDIS_URL is refused by the configuration loader.
 *
 * Each worker gets its own gateway id (`<KEYGATE_GATEWAY_ID>-<n>` when one is configured, random
 * otherwise), since usage batches are numbered per gateway. A worker that dies is forked again
 * (at most once a second); SIGTERM/SIGINT stop the workers gracefully, then the primary.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../src/config/config.js';

const REFORK_DELAY_MS = 1000;

/** This process's node:cluster worker id under a worker primary, undefined otherwise. */
export function workerId(): number | undefined {
  return cluster.worker?.id;
}

export function isWorkerPrimary(config: Config): boolean {
  return config.gatewayWorkers > 1 && cluster.isPrimary;
}

/** Runs the primary: forks the workers and keeps them running until a signal stops it. */
export function runWorkerPrimary(config: Config, log: (line: string) => void): void {
  let stopping = false;
  const fork = (n: number): Worker => {
    const env: Record<string, string> = { KEYGATE_GATEWAY_WORKER: String(n) };
    if (config.gatewayId !== undefined) env.KEYGATE_GATEWAY_ID = `${config.gatewayId}-${n}`;
    const worker = cluster.fork(env);
    worker.once('exit', (code, signal) => {
      if (stopping) return;
      log(`gateway worker ${n} exited (${signal ?? code}); starting it again`);
      setTimeout(() => {
        if (!stopping) fork(n);
      }, REFORK_DELAY_MS).unref();
    });
    return worker;
  };
  for (let n = 1; n <= config.gatewayWorkers; n++) fork(n);
  log(`gateway: ${config.gatewayWorkers} workers on ${config.gatewayHost}:${config.gatewayPort}`);

  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    let left = workers.length;
    if (left === 0) process.exit(0);
    // Each worker drains for up to KEYGATE_SHUTDOWN_TIMEOUT_MS, then flushes or spools its usage.
    const force = setTimeout(() => process.exit(1), config.shutdownTimeoutMs + 10_000);
    for (const worker of workers) {
      worker.once('exit', () => {
        if (--left === 0) {
          clearTimeout(force);
          process.exit(0);
        }
      });
      worker.process.kill('SIGTERM');
    }
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
