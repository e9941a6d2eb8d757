/**
 * Real processes for end-to-end tests: spawn a plane's entry (compiled for the test run, or under
 * tsx: entry.ts) on a free port, wait until it answers, and kill it (and everything else started) in afterAll.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../bench/processes.js';
import { eventually } from './eventually.js';
import { retryIfPortTaken } from './free-ports.js';
import { childEnv } from './child-env.js';
import { entryArgs } from './entry.js';

export { freePort, entryArgs };

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Spawned {
  child: ChildProcess;
  url: string;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function waitForHttp(url: string, timeoutMs = 60_000): Promise<void> {
  await eventually(
    async () => {
      await (await fetch(url)).arrayBuffer();
      return true;
    },
    { timeoutMs, intervalMs: 50, what: `an answer from ${url}` },
  );
}

/** Spawns `<entry> ...args` (entryArgs: compiled, or under tsx) with env; resolves when `${url}${readyPath}` answers. */
export async function spawnTs(
  entry: string,
  options: { env: Record<string, string>; url: string; readyPath?: string; args?: string[] },
): Promise<Spawned> {
  let output = '';
  const child = spawn(process.execPath, [...entryArgs(entry), ...(options.args ?? [])], {
    cwd: ROOT,
    env: childEnv({
      KEYGATE_LOG_LEVEL: 'warn',
      KEYGATE_PROVIDER_ENV_ALLOWLIST: 'E2E_PROVIDER_KEY',
      ...options.env,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await Promise.race([
      waitForHttp(`${options.url}${options.readyPath ?? '/healthz'}`),
      exited.then((code) => {
        throw new Error(`${entry} exited with ${code} before it was ready:\n${output}`);
      }),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    child,
    url: options.url,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Starts the admin plane as a process on a free port (another one if that is taken meanwhile). */
export async function spawnAdmin(env: Record<string, string>): Promise<Spawned> {
  return retryIfPortTaken(async () => {
    const port = await freePort();
    return spawnTs('admin/main.ts', {
      url: `http://127.0.0.1:${port}`,
      env: { KEYGATE_ADMIN_PORT: String(port), ...env },
    });
  });
}

/** `keygate <command>` as a child process (warn-level logs), with its stdout and stderr collected. */
export function runCli(command: string, env: Record<string, string>) {
  let output = '';
  const child = spawn(process.execPath, [...entryArgs('bin/keygate.ts'), command], {
    cwd: ROOT,
    env: childEnv({ KEYGATE_LOG_LEVEL: 'warn', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

export interface CliPorts {
  adminPort: number;
  gatewayPort: number;
}

/**
 * `keygate <command>` (start, demo) on free admin and gateway ports, resolved when the gateway
 * answers `/healthz`; on new ports, in a new child, when one was taken before the child bound
 * it (the wrapper's own port check or the plane's bind says "already in use").
 */
export function startCli(
  command: string,
  env: (ports: CliPorts) => Record<string, string>,
  timeoutMs = 60_000,
): Promise<ReturnType<typeof runCli> & CliPorts> {
  return retryIfPortTaken(async () => {
    const ports = { adminPort: await freePort(), gatewayPort: await freePort() };
    const run = runCli(command, env(ports));
    try {
      await Promise.race([
        waitForHttp(`http://127.0.0.1:${ports.gatewayPort}/healthz`, timeoutMs),
        run.exited.then((code) => {
          throw new Error(`keygate ${command} exited with ${code} before it was ready:\n${run.output()}`);
        }),
      ]);
    } catch (error) {
      run.child.kill('SIGKILL');
      await run.exited;
      throw error;
    }
    return { ...run, ...ports };
  });
}
