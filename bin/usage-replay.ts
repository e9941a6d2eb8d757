/**
 * `keygate usage replay [spool-dir]`: sends the usage batches the gateway set aside (refused for
 * good by the admin plane, in `<spool-dir>/refused/`, KEYGATE_SPOOL_DIR by default) to
 * KEYGATE_ADMIN_URL again, once the cause is fixed (an admin plane upgraded, a limit raised).
 * Each batch keeps its gatewayId and batchId: the admin plane applies a (gatewayId, batchId) at
 * most once, so replaying a batch twice never counts it twice. A file the admin plane accepts is
 * removed; one it refuses again, or that cannot be sent, stays. A batch that cannot be sent
 * (network, 5xx, 401/403: the admin plane is away or misconfigured) ends the run: the rest stay
 * untried rather than each waiting out the same failure. Temporary files (`*.json.tmp`) older than
 * a minute, left by a gateway killed mid-write, are removed first and named. Exit 0 when none is left, 1 when some
 * are, 2 on a usage or configuration problem (no such spool directory, a refused/ area that cannot
 * be read).
 */
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { AdminClient } from '../gateway/admin-client.js';
import { RefusedBatches } from '../gateway/usage/refused-batches.js';
import { UsageRefusedError } from '../gateway/usage/usage-refusal.js';
import { systemClock } from '../src/clock.js';
import type { Config } from '../src/config/config.js';
import { usageReportFromWire } from '../src/usage/usage-report.js';

export const USAGE_COMMAND_HELP = 'usage: keygate usage replay [spool-dir]\n';

export interface ReplayOutput {
  write(text: string): unknown;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export async function runUsageCommand(
  config: Readonly<Config>,
  args: readonly string[],
  out: ReplayOutput = process.stdout,
  err: ReplayOutput = process.stderr,
): Promise<number> {
  if (args[0] !== 'replay' || args.length > 2) {
    err.write(USAGE_COMMAND_HELP);
    return 2;
  }
  if (config.internalSecret === undefined) {
    err.write('keygate usage replay: KEYGATE_INTERNAL_SECRET is required (the admin plane checks it)\n');
    return 2;
  }
  const dir = args[1] ?? config.spoolDir;
  const refused = basename(dir) === 'refused' ? new RefusedBatches(dir) : RefusedBatches.inSpool(dir);
  // A directory that is not there is a typo or the wrong host, not "nothing to replay" (exit 0
  // would tell a script all was sent); a spool whose refused/ area was never made is the latter.
  if (!isDirectory(dir)) {
    err.write(`keygate usage replay: ${dir} is not a directory (give the gateway's KEYGATE_SPOOL_DIR)\n`);
    return 2;
  }
  let paths: string[];
  try {
    // Temporaries a killed gateway left between write and rename: never a batch (see RefusedBatches).
    for (const path of refused.removeStaleTemporaries(systemClock.now()))
      out.write(`removed stale temporary ${path}\n`);
    paths = refused.list();
  } catch (error) {
    err.write(`keygate usage replay: cannot read ${refused.dir}: ${(error as Error).message}\n`);
    return 2;
  }
  const client = new AdminClient({
    adminUrl: config.adminUrl,
    internalSecret: config.internalSecret,
    gatewayId: config.gatewayId ?? 'keygate-usage-replay',
    clock: systemClock,
  });
  const counts = { accepted: 0, duplicate: 0, refused: 0, unsent: 0 };
  try {
    for (const [index, path] of paths.entries()) {
      let report;
      try {
        ({ report } = refused.read(path));
      } catch (error) {
        counts.unsent++;
        out.write(`unreadable ${path}: ${(error as Error).message}\n`);
        continue;
      }
      const batch = `${report.batch_id} (${report.items.length} items)`;
      try {
        const { applied } = await client.postUsage(usageReportFromWire(report));
        refused.remove(path);
        counts[applied ? 'accepted' : 'duplicate']++;
        out.write(`accepted ${batch}${applied ? '' : ': already applied, not counted again'}\n`);
      } catch (error) {
        const again = error instanceof UsageRefusedError;
        counts[again ? 'refused' : 'unsent']++;
        const why = again ? `${error.status} ${error.body}` : (error as Error).message;
        out.write(`${again ? 'refused again' : 'not sent'} ${batch}: ${why}\n`);
        const untried = paths.length - index - 1;
        if (!again && untried > 0) {
          counts.unsent += untried;
          out.write(`not tried: ${untried} more batches (the admin plane did not take the last one)\n`);
          break;
        }
      }
    }
  } finally {
    await client.close();
  }
  const left = counts.refused + counts.unsent;
  out.write(
    `replayed ${counts.accepted + counts.duplicate + left} batches from ${refused.dir}: ` +
      `${counts.accepted} applied, ${counts.duplicate} already applied, ` +
      `${counts.refused} refused again, ${counts.unsent} not sent; ${left} kept\n`,
  );
  return left === 0 ? 0 : 1;
}
