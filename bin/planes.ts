/**
 * The planes as child processes of the `keygate` wrapper: each started with an IPC channel and
 * bin/parent-watch preloaded (it stops when the wrapper dies, even by kill -9), waited for until it
 * answers /healthz, and stopped gateway first, then the admin plane (the gateway's last usage
 * flush still reaches it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Config } from '../src/config/config.js';
import { openDatabase } from '../src/storage/database.js';
import { ensureInternalSecret } from '../admin/main.js';
import { localUrl } from './health.js';
import { ensurePortsFree } from './ports.js';

const HERE = new URL('.', import.meta.url);
export const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

export function entry(relative: string): string {
  return fileURLToPath(new URL(`${relative}${EXT}`, HERE));
}

/** Under tsx (development) the children need the TypeScript loader too. */
function nodeArgs(): string[] {
  const watch = new URL(`parent-watch${EXT}`, HERE).href;
  return [...(EXT === '.ts' ? ['--import', 'tsx'] : []), '--import', watch];
}

export interface Child {
  name: string;
  process: ChildProcess;
  exited: Promise<number | null>;
}

export function launch(name: string, file: string, env: Record<string, string>): Child {
  const child = spawn(process.execPath, [...nodeArgs(), file], {
    env: { ...process.env, ...env },
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
  });
  // The channel only tells the child when this process is gone; it must not keep this one alive.
  child.channel?.unref();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { name, process: child, exited };
}

export async function stopChild(child: Child, graceMs = 20_000): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

async function waitUntilUp(url: string, child: Child, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let dead: number | null | undefined;
  void child.exited.then((code) => (dead = code));
  while (Date.now() < deadline) {
    if (dead !== undefined) throw new Error(`${child.name} exited with ${dead} during start (see above)`);
    try {
      const response = await fetch(`${url}/healthz`);
      await response.arrayBuffer();
      if (response.ok && dead === undefined) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${child.name} did not answer at ${url} within ${timeoutMs} ms`);
}

export interface Planes {
  adminUrl: string;
  gatewayUrl: string;
  stop(): Promise<void>;
}

export function onSignals(stop: () => Promise<void>): void {
  const handler = () => {
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}

/** Checks both ports, starts admin, waits for it, then the gateway; stops both if either dies. */
export async function startPlanes(
  config: Readonly<Config>,
  extraEnv: Record<string, string> = {},
): Promise<Planes> {
  await ensurePortsFree([
    { name: 'admin plane', host: config.adminHost, port: config.adminPort, variable: 'KEYGATE_ADMIN_PORT' },
    { name: 'gateway', host: config.gatewayHost, port: config.gatewayPort, variable: 'KEYGATE_GATEWAY_PORT' },
  ]);
  const db = openDatabase(config.dbPath, { cacheMb: config.dbCacheMb });
  const internalSecret = ensureInternalSecret(db, config.internalSecret, config.dbPath);
  db.close();
  // A wildcard listen host (0.0.0.0 in the Docker image) is reached through the loopback address.
  const adminUrl = localUrl(config.adminHost, config.adminPort);
  const gatewayUrl = localUrl(config.gatewayHost, config.gatewayPort);
  const env: Record<string, string> = {
    KEYGATE_INTERNAL_SECRET: internalSecret,
    KEYGATE_ADMIN_URL: process.env.KEYGATE_ADMIN_URL ?? adminUrl,
    KEYGATE_GATEWAY_URLS: process.env.KEYGATE_GATEWAY_URLS ?? gatewayUrl,
    ...extraEnv,
  };
  let admin: Child | undefined;
  let gateway: Child | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      // The gateway drains (KEYGATE_SHUTDOWN_TIMEOUT_MS), flushes and spools before the admin stops.
      if (gateway !== undefined) await stopChild(gateway, config.shutdownTimeoutMs + 10_000);
      if (admin !== undefined) await stopChild(admin);
    })());
  const watch = (child: Child) => {
    void child.exited.then((code) => {
      if (stopping !== undefined) return;
      process.stderr.write(`keygate: ${child.name} exited with ${code}; stopping\n`);
      void stop().then(() => process.exit(code === 0 ? 1 : (code ?? 1)));
    });
  };
  // A signal, also during start-up, stops whatever already runs; then this process exits.
  onSignals(stop);
  try {
    admin = launch('admin plane', entry('../admin/main'), env);
    watch(admin);
    await waitUntilUp(adminUrl, admin);
    gateway = launch('gateway', entry('../gateway/main'), env);
    watch(gateway);
    await waitUntilUp(gatewayUrl, gateway);
  } catch (error) {
    await stop();
    throw error;
  }
  return { adminUrl, gatewayUrl, stop };
}
