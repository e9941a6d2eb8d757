#!/usr/bin/env node
/**
 * The `keygate` command line (API.md "Command line and scripts").
 *   keygate start    admin plane + gateway as two child processes (graceful stop on SIGINT/SIGTERM)
 *   keygate admin    the admin plane alone
 *   keygate gateway  the gateway alone
 *   keygate demo     start + a local mock upstream, a demo org/team/target/key and a ready curl line
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, type Config } from '../src/config/config.js';
import { openDatabase } from '../src/storage/database.js';
import { ensureInternalSecret } from '../admin/main.js';

const HERE = new URL('.', import.meta.url);
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
/** Under tsx (development) the children need the TypeScript loader too. */
const NODE_ARGS = EXT === '.ts' ? ['--import', 'tsx'] : [];

function entry(relative: string): string {
  return fileURLToPath(new URL(`${relative}${EXT}`, HERE));
}

const USAGE = `usage: keygate <start|admin|gateway|demo>

  start    admin plane + gateway (SQLite at KEYGATE_DB_PATH, in-memory counters)
  admin    the admin plane only
  gateway  the gateway only (needs KEYGATE_INTERNAL_SECRET and KEYGATE_ADMIN_URL)
  demo     start + mock upstream + demo org, team, target and key
`;

interface Child {
  name: string;
  process: ChildProcess;
  exited: Promise<number | null>;
}

function launch(name: string, file: string, env: Record<string, string>): Child {
  const child = spawn(process.execPath, [...NODE_ARGS, file], {
    env: { ...process.env, ...env },
    stdio: 'inherit',
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { name, process: child, exited };
}

async function waitUntilUp(url: string, child: Child, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let dead = false;
  void child.exited.then(() => (dead = true));
  while (Date.now() < deadline) {
    if (dead) throw new Error(`${child.name} exited during start`);
    try {
      const response = await fetch(`${url}/healthz`);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${child.name} did not answer at ${url} within ${timeoutMs} ms`);
}

interface Planes {
  adminUrl: string;
  gatewayUrl: string;
  stop(): Promise<void>;
}

/** Starts admin, waits for it, then the gateway; stops both if either dies. */
async function startPlanes(config: Readonly<Config>, extraEnv: Record<string, string> = {}): Promise<Planes> {
  const db = openDatabase(config.dbPath);
  const internalSecret = ensureInternalSecret(db, config.internalSecret);
  db.close();
  const adminUrl = `http://${config.adminHost}:${config.adminPort}`;
  const gatewayUrl = `http://${config.gatewayHost}:${config.gatewayPort}`;
  const env: Record<string, string> = {
    ...extraEnv,
    KEYGATE_INTERNAL_SECRET: internalSecret,
    KEYGATE_ADMIN_URL: process.env.KEYGATE_ADMIN_URL ?? adminUrl,
    KEYGATE_GATEWAY_URLS: process.env.KEYGATE_GATEWAY_URLS ?? gatewayUrl,
  };
  const children: Child[] = [];
  let stopping = false;
  // Signals during start-up must stop the children that are already running.
  onSignals(() => stop());
  // The gateway stops first and the admin plane only after the gateway's last usage flush
  // (issue 13: stopping both at once lost every unflushed request); each gets its own deadline
  // (the gateway's drain deadline + 10 s for flush and spool) before SIGKILL.
  const stop = async (): Promise<void> => {
    stopping = true;
    for (const child of [...children].reverse()) {
      if (child.process.exitCode !== null || child.process.signalCode !== null) continue;
      child.process.kill('SIGTERM');
      const graceMs = child === children[1] ? config.shutdownTimeoutMs + 10_000 : 10_000;
      const timer = setTimeout(() => child.process.kill('SIGKILL'), graceMs);
      await child.exited;
      clearTimeout(timer);
    }
  };
  const watch = (child: Child) => {
    void child.exited.then((code) => {
      if (stopping) return;
      process.stderr.write(`keygate: ${child.name} exited with ${code}; stopping\n`);
      void stop().then(() => process.exit(code === 0 ? 1 : (code ?? 1)));
    });
  };
  const admin = launch('admin plane', entry('../admin/main'), env);
  children.push(admin);
  watch(admin);
  await waitUntilUp(adminUrl, admin);
  const gateway = launch('gateway', entry('../gateway/main'), env);
  children.push(gateway);
  watch(gateway);
  await waitUntilUp(gatewayUrl, gateway);
  return { adminUrl, gatewayUrl, stop };
}

function onSignals(stop: () => Promise<void>): void {
  const handler = () => {
    void stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}

async function runStart(config: Readonly<Config>): Promise<void> {
  const planes = await startPlanes(config);
  process.stdout.write(
    `keygate running: gateway ${planes.gatewayUrl}, admin ${planes.adminUrl} (Ctrl-C to stop)\n`,
  );
}

async function runSingle(name: string, file: string): Promise<void> {
  const child = launch(name, file, {});
  onSignals(async () => {
    child.process.kill('SIGTERM');
    await child.exited;
  });
  process.exitCode = (await child.exited) ?? 1;
}

async function adminCall(
  adminUrl: string,
  masterKey: string,
  path: string,
  body: unknown,
): Promise<{ id: string; secret?: string }> {
  const response = await fetch(`${adminUrl}/v1${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${masterKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as { id: string; secret?: string };
  if (!response.ok) throw new Error(`demo setup: POST ${path} → ${response.status} ${JSON.stringify(json)}`);
  return json;
}

async function runDemo(config: Readonly<Config>): Promise<void> {
  const { startMockUpstream } = (await import(
    `../bench/mock-upstream${EXT}`
  )) as typeof import('../bench/mock-upstream.js');
  const upstream = await startMockUpstream({ port: 0, host: '127.0.0.1' });
  const masterKey = config.masterKey ?? `kgm_demo_${randomBytes(18).toString('base64url')}`;
  const dbPath = process.env.KEYGATE_DB_PATH ?? './data/demo.db';
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${dbPath}${suffix}`, { force: true });
  const demoConfig = Object.freeze({ ...config, dbPath });
  const planes = await startPlanes(demoConfig, { KEYGATE_DB_PATH: dbPath, KEYGATE_MASTER_KEY: masterKey });
  const org = await adminCall(planes.adminUrl, masterKey, '/orgs', { name: 'demo-org' });
  const team = await adminCall(planes.adminUrl, masterKey, '/teams', { org_id: org.id, name: 'demo-team' });
  await adminCall(planes.adminUrl, masterKey, '/targets', {
    name: 'demo-model',
    upstream: { base_url: `${upstream.url}/v1`, model: 'mock-gpt' },
    pricing: { input_per_mtok: 0.15, output_per_mtok: 0.6 },
    tags: ['demo'],
  });
  const sa = { type: 'service_account', create: { name: 'demo-app' } };
  const created = await adminCall(planes.adminUrl, masterKey, '/keys', {
    name: 'demo-key',
    team_id: team.id,
    owner: sa,
  });
  process.stdout.write(
    [
      '',
      'keygate demo is running (Ctrl-C to stop)',
      `  gateway      ${planes.gatewayUrl}`,
      `  admin        ${planes.adminUrl}   master key: ${masterKey}`,
      `  mock upstream ${upstream.url}`,
      '',
      'Try it:',
      `  curl -s ${planes.gatewayUrl}/v1/chat/completions \\`,
      `    -H 'Authorization: Bearer ${created.secret}' -H 'content-type: application/json' \\`,
      `    -d '{"model":"demo-model","messages":[{"role":"user","content":"Hello"}]}'`,
      '',
    ].join('\n'),
  );
}

async function main(): Promise<void> {
  const command = process.argv[2];
  let config: Readonly<Config>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`keygate: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  switch (command) {
    case 'start':
      return runStart(config);
    case 'admin':
      return runSingle('admin plane', entry('../admin/main'));
    case 'gateway':
      return runSingle('gateway', entry('../gateway/main'));
    case 'demo':
      return runDemo(config);
    case undefined:
    default:
      process.stderr.write(USAGE);
      process.exit(command === undefined || command === '--help' || command === 'help' ? 0 : 2);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`keygate: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
