/**
 * The internal API for gateways (docs/api.md "Internal API",
 * shapes in src/policy/resolved-policy.ts, src/invalidation/change.ts, src/usage/usage-report.ts).
 * Every route requires an internal token signed with KEYGATE_INTERNAL_SECRET; it is never
 * reachable with user credentials. The routes are plain Hono routes, deliberately left out of
 * /openapi.json, which documents the public admin API only.
 */
import { z } from 'zod';
import type { Context } from 'hono';
import { KeygateError } from '../../src/errors/keygate-error.js';
import type { ChangePage } from '../../src/invalidation/change.js';
import type { TargetRoute } from '../../src/policy/resolved-policy.js';
import { issueDetails } from '../zod-issue.js';
import { changeAtOrBefore, changeLogHead, readChangesAfter } from '../../src/storage/change-log.js';
import { allTargets } from '../../src/storage/target-repository.js';
import { usageReportFromWire } from '../../src/usage/usage-report.js';
import type { AdminApp } from '../app.js';
import type { AdminDeps } from '../context.js';
import { applyUsage, type SoftBudgetAlert } from '../internal/apply-usage.js';
import { isValidUsageReport, UsageReportSchema } from '../internal/usage-report-schema.js';
import { MAX_KEY_BATCH, parseCursor, recentKeyPolicies, resolveKeyPolicies } from '../internal/key-batch.js';
import { resolveKeyPolicy } from '../internal/resolve-key-policy.js';

const KeyBatchSchema = z.object({ hashes: z.array(z.string().max(128)).min(1).max(MAX_KEY_BATCH) });

const RecentKeysQuery = z.object({
  after: z.string().max(300).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_KEY_BATCH).default(MAX_KEY_BATCH),
});

const ChangesQuery = z.object({
  after: z.coerce.number().int().nonnegative().default(0),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
});

function parsed<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const { param, message } = issueDetails(result.error);
  throw new KeygateError('invalid_request', message === undefined ? { param } : { param, message });
}

async function jsonBody(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw new KeygateError('invalid_request', { message: 'The body must be JSON.' });
  }
}

export function registerInternalRoutes(app: AdminApp, deps: AdminDeps): void {
  const { db } = deps;

  app.use('/internal/*', async (c, next) => {
    if (!(await deps.internalTokens.verify(c.req.header('authorization'))))
      throw new KeygateError('unauthenticated');
    return next();
  });

  app.get('/internal/keys/:hash', (c) => {
    const policy = resolveKeyPolicy(db, c.req.param('hash'), c.req.query('gateway_id'), deps.clock.now());
    if (policy === null) throw new KeygateError('not_found');
    return c.json(policy, 200);
  });

  // Batched loads and warm start (issue 15, admin/internal/key-batch.ts).
  app.post('/internal/keys', async (c) => {
    const { hashes } = parsed(KeyBatchSchema, await jsonBody(c));
    const policies = resolveKeyPolicies(db, hashes, c.req.query('gateway_id'), deps.clock.now());
    return c.json({ policies }, 200);
  });

  app.get('/internal/keys', (c) => {
    const query = parsed(RecentKeysQuery, c.req.query());
    const after = query.after === undefined ? undefined : parseCursor(query.after);
    if (query.after !== undefined && after === undefined) {
      throw new KeygateError('invalid_request', { param: 'after', message: 'after: not a cursor' });
    }
    const page = recentKeyPolicies(db, after, query.limit, c.req.query('gateway_id'), deps.clock.now());
    // The cursor also in a header: a gateway asks for the next page before this one's body is read.
    c.header('x-keygate-next', page.next ?? 'none');
    return c.json(page, 200);
  });

  app.get('/internal/targets', (c) => {
    // The head and its change: a gateway starting from this catalog checks, at its first pull,
    // that the log still holds that change there (it was not restored and written past it).
    const last = changeAtOrBefore(db, Number.MAX_SAFE_INTEGER);
    const seq = last?.seq ?? 0;
    const targets: TargetRoute[] = allTargets(db).map((row) => ({
      name: row.name,
      baseUrl: row.base_url,
      upstreamModel: row.upstream_model,
      apiKeyEnv: row.api_key_env,
      inputMicrosPerMtok: row.input_micros_per_mtok,
      outputMicrosPerMtok: row.output_micros_per_mtok,
    }));
    return c.json({ seq, last, targets }, 200);
  });

  app.get('/internal/changes', (c) => {
    const query = parsed(ChangesQuery, c.req.query());
    const head = changeLogHead(db);
    const changes = readChangesAfter(db, query.after, query.limit);
    // The change the page follows: a gateway compares it with the one it applied at `after`, so
    // a log restored from a backup and written past the gateway's cursor is told apart.
    const previous = query.after === 0 ? null : changeAtOrBefore(db, query.after);
    const page: ChangePage = { seq: changes[changes.length - 1]?.seq ?? head, changes, previous };
    return c.json(page, 200);
  });

  app.post('/internal/usage', async (c) => {
    // The hand check first (thousands of items per flush); zod for anything it refuses, so a
    // malformed body gets the schema's own error (admin/internal/usage-report-schema.ts).
    const body = await jsonBody(c);
    const report = usageReportFromWire(isValidUsageReport(body) ? body : parsed(UsageReportSchema, body));
    const alerts: SoftBudgetAlert[] = [];
    const applied = applyUsage(db, report, deps.clock.now(), alerts);
    for (const alert of alerts) deps.alerts?.send(alert);
    deps.metrics?.usageBatch(applied);
    return c.json({ applied }, 200);
  });
}
