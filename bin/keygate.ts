#!/usr/bin/env node
/**
 * The `keygate` command line (API.md "Command line and scripts").
 *   keygate start    admin plane + gateway as two child processes (graceful stop on SIGINT/SIGTERM)
 *   keygate admin    the admin plane alone
 *   keygate gateway  the gateway alone
 *   keygate demo     start + a local mock upstream, a demo org/team/target/key and a ready curl line
 *   keygate doctor   effective configuration (secrets masked) and checks; non-zero on problems
 *   keygate health   exit 0 when both planes answer /healthz (the Docker HEALTHCHECK)
 *   keygate usage replay [spool-dir]  send the usage batches the admin plane refused for good again
 */
import { ConfigError, loadConfig, type Config } from '../src/config/config.js';
import { runDemo } from './demo.js';
import { runDoctor } from './doctor.js';
import { runHealth } from './health.js';
import { runUsageCommand } from './usage-replay.js';
import { entry, launch, onSignals, startPlanes, stopChild } from './planes.js';
import { PortInUseError } from './ports.js';

const USAGE = `usage: keygate <start|admin|gateway|demo|doctor|health|usage>

  start    admin plane + gateway (SQLite at KEYGATE_DB_PATH, in-memory counters)
  admin    the admin plane only
  gateway  the gateway only (needs KEYGATE_INTERNAL_SECRET and KEYGATE_ADMIN_URL);
           --workers N forks N workers on one port (needs REDIS_URL)
  demo     start + mock upstream + demo org, team, target and key (in a temporary database)
  doctor   print the effective configuration (secrets masked) and check DB, admin, Redis, upstreams
  health   exit 0 when the admin plane and the gateway answer /healthz
  usage replay [spool-dir]
           send the usage batches set aside in <spool-dir>/refused (refused for good by the
           admin plane) to KEYGATE_ADMIN_URL again; 1 when some stay refused
`;

async function runStart(config: Readonly<Config>): Promise<void> {
  const planes = await startPlanes(config);
  process.stdout.write(
    `keygate running: gateway ${planes.gatewayUrl}, admin ${planes.adminUrl} (Ctrl-C to stop)\n`,
  );
}

async function runSingle(name: string, file: string): Promise<void> {
  const child = launch(name, file, {});
  onSignals(() => stopChild(child));
  process.exitCode = (await child.exited) ?? 1;
}

/** `--workers N` (gateway, start): the same as KEYGATE_GATEWAY_WORKERS=N, passed on to the gateway process. */
function applyWorkersFlag(args: readonly string[]): void {
  const at = args.indexOf('--workers');
  if (at >= 0 && args[at + 1] !== undefined) process.env.KEYGATE_GATEWAY_WORKERS = args[at + 1];
}

async function main(): Promise<void> {
  const command = process.argv[2];
  applyWorkersFlag(process.argv.slice(3));
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
    case 'doctor':
      process.exitCode = await runDoctor(config, process.env);
      return;
    case 'health':
      process.exitCode = await runHealth(config);
      return;
    case 'usage':
      process.exitCode = await runUsageCommand(config, process.argv.slice(3));
      return;
    case undefined:
    default:
      process.stderr.write(USAGE);
      process.exit(command === undefined || command === '--help' || command === 'help' ? 0 : 2);
  }
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  const prefix = error instanceof PortInUseError ? 'cannot start, port in use:\n  ' : '';
  process.stderr.write(`keygate: ${prefix}${message}\n`);
  process.exit(1);
});
