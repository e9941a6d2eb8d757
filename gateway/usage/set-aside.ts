/**
 * What the gateway does with a usage batch the admin plane refused for good: written to the
 * spool's `refused/` area for `keygate usage replay`, or, without one (or when the disk refuses),
 * logged in full at error level, items included, so an operator can replay it from the log.
 * Either way it is never dropped silently.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../src/clock.js';
import { usageReportToWire, type UsageReport } from '../../src/usage/usage-report.js';
import type { RefusedBatches } from './refused-batches.js';
import type { UsageRefusedError } from './usage-refusal.js';

export function usageSetAside(
  refused: RefusedBatches | undefined,
  logger: Logger,
  clock: Clock,
): (report: UsageReport, refusal: UsageRefusedError) => void {
  return (report, refusal) => {
    const what = { batchId: report.batchId, status: refusal.status, error: refusal.body };
    if (refused !== undefined) {
      try {
        const path = refused.keep(report, refusal, clock.now());
        logger.error(
          { ...what, items: report.items.length, path },
          'usage batch refused for good by the admin plane; set aside for `keygate usage replay`',
        );
        return;
      } catch (error) {
        logger.error({ err: error, dir: refused.dir }, 'refused usage batch could not be written');
      }
    }
    logger.error(
      { ...what, report: usageReportToWire(report) },
      'usage batch refused for good by the admin plane; set aside in this log line (replay its report)',
    );
  };
}
