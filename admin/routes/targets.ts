/**
 * Callable targets (API.md "Callable targets and access groups"): the names clients send as
 * `model`, with their upstream, pricing (stored as integer micro-USD per million tokens) and tags.
 * Platform admins create, update and delete them; every authenticated caller may read them.
 * Every write appends a `target` change, so gateways reload the catalog and drop cached policies
 * (a new or re-tagged target can join an access group's match rule, a rename changes names).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { KeygateError } from '../../src/errors/keygate-error.js';
import { newId } from '../../src/ids.js';
import { microsToUsd, usdToMicros } from '../../src/money.js';
import { isProviderEnvAllowed } from '../../src/policy/provider-credential.js';
import { platformAdminOnly } from '../auth/platform-admin-only.js';
import type { AdminApp } from '../app.js';
import type { AdminDeps } from '../context.js';
import { mutate, updateAudited } from '../mutation.js';
import { requireUniqueName } from '../unique-name.js';
import { nameTaken, queryRows, updateRow } from '../../src/storage/rows.js';
import {
  deleteTarget,
  encodeTags,
  findTarget,
  insertTarget,
  parseTags,
  targetListQuery,
  type TargetColumns,
  type TargetRow,
} from '../../src/storage/target-repository.js';
import { paginate } from '../../src/storage/pagination.js';
import { idParam, isoOrNull, json, listQuery, ok, security, tagText, plainText } from '../schemas.js';

/** What a client may send as `model`: no spaces, no glob characters. */
const TARGET_NAME = /^[A-Za-z0-9][\w.:/@+-]*$/;

export const targetName = z
  .string()
  .min(1)
  .max(200)
  .regex(TARGET_NAME, 'letters, digits and . _ : / @ + - (starting with a letter or digit)');

const baseUrl = z
  .string()
  .max(2000)
  .refine((value) => {
    try {
      const url = new URL(value);
      return (
        (url.protocol === 'http:' || url.protocol === 'https:') &&
        url.username === '' &&
        url.password === '' &&
        url.search === '' &&
        url.hash === ''
      );
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL without credentials, query or fragment');

const tagList = z.array(tagText).max(50);
const price = z.number().nonnegative().max(1e6);

const TargetCreate = z.object({
  name: targetName,
  upstream: z.object({
    base_url: baseUrl,
    model: plainText(200).nullable().optional(),
    api_key_env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
      .max(200)
      .nullable()
      .optional(),
  }),
  pricing: z.object({ input_per_mtok: price, output_per_mtok: price }).optional(),
  tags: tagList.optional(),
});

const TargetUpdate = z.object({
  name: targetName.optional(),
  upstream: TargetCreate.shape.upstream.partial().optional(),
  pricing: z.object({ input_per_mtok: price, output_per_mtok: price }).partial().optional(),
  tags: tagList.optional(),
});

export function targetView(row: TargetRow) {
  return {
    id: row.id,
    name: row.name,
    upstream: { base_url: row.base_url, model: row.upstream_model, api_key_env: row.api_key_env },
    pricing: {
      input_per_mtok: microsToUsd(row.input_micros_per_mtok),
      output_per_mtok: microsToUsd(row.output_micros_per_mtok),
    },
    tags: parseTags(row.tags),
    created_at: isoOrNull(row.created_at),
    updated_at: isoOrNull(row.updated_at),
  };
}

function getTarget(deps: AdminDeps, id: string): TargetRow {
  const row = findTarget(deps.db, id);
  if (row === undefined) throw new KeygateError('not_found');
  return row;
}

function uniqueName(deps: AdminDeps, name: string, exceptId: string | null): void {
  requireUniqueName(
    nameTaken(deps.db, 'targets', name, exceptId),
    `A target named "${name}" already exists.`,
  );
}

/** 400 unless the gateway may read `name` as a provider credential (src/policy/provider-credential.ts). */
function assertProviderEnv(deps: AdminDeps, name: string | null | undefined): void {
  if (name === null || name === undefined || isProviderEnvAllowed(name, deps.config)) return;
  throw new KeygateError('invalid_request', {
    param: 'upstream.api_key_env',
    message: `"${name}" is not a provider credential variable: use a name starting with ${deps.config.providerEnvPrefix} or one listed in KEYGATE_PROVIDER_ENV_ALLOWLIST.`,
  });
}

export function registerTargetRoutes(app: AdminApp, deps: AdminDeps): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/targets',
      security,
      middleware: [platformAdminOnly] as const,
      request: { body: json(TargetCreate) },
      responses: { 201: ok('The created target') },
    }),
    (c) => {
      if (!c.get('access').isPlatformAdmin) throw new KeygateError('forbidden');
      const body = c.req.valid('json');
      assertProviderEnv(deps, body.upstream.api_key_env);
      // A target without pricing costs $0: its traffic never trips a budget (issue 13, item 12).
      if (body.pricing === undefined && deps.config.requirePricing)
        throw new KeygateError('invalid_request', {
          param: 'pricing',
          message:
            'KEYGATE_REQUIRE_PRICING is set: a target needs pricing (input_per_mtok, output_per_mtok).',
        });
      const id = newId('tgt');
      const row = mutate(deps, c, (journal) => {
        uniqueName(deps, body.name, null);
        insertTarget(deps.db, {
          id,
          name: body.name,
          base_url: body.upstream.base_url,
          upstream_model: body.upstream.model ?? null,
          api_key_env: body.upstream.api_key_env ?? null,
          input_micros_per_mtok: usdToMicros(body.pricing?.input_per_mtok ?? 0),
          output_micros_per_mtok: usdToMicros(body.pricing?.output_per_mtok ?? 0),
          tags: encodeTags(body.tags ?? []),
          created_at: journal.now,
          updated_at: journal.now,
        });
        const created = getTarget(deps, id);
        journal.audit({
          action: 'target.create',
          entityType: 'target',
          entityId: id,
          after: targetView(created),
        });
        journal.change('target', id);
        return created;
      });
      if (row.input_micros_per_mtok === 0 && row.output_micros_per_mtok === 0) {
        const warning = `target "${row.name}" has no pricing: its requests cost $0 and never count against a budget`;
        deps.logger.warn({ target: row.name, targetId: row.id }, warning);
        return c.json({ ...targetView(row), warnings: [warning] }, 201);
      }
      return c.json(targetView(row), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/targets',
      security,
      request: { query: z.object({ ...listQuery, tag: z.string().optional() }) },
      responses: { 200: ok('Callable targets') },
    }),
    (c) => {
      const query = c.req.valid('query');
      const list = targetListQuery(query.tag);
      const page = paginate(queryRows<TargetRow>(deps.db), list.sql, list.params, query);
      return c.json({ data: page.rows.map(targetView), next_cursor: page.next_cursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/targets/{id}',
      security,
      request: { params: idParam },
      responses: { 200: ok('The target') },
    }),
    (c) => c.json(targetView(getTarget(deps, c.req.valid('param').id)), 200),
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/v1/targets/{id}',
      security,
      middleware: [platformAdminOnly] as const,
      request: { params: idParam, body: json(TargetUpdate) },
      responses: { 200: ok('The updated target') },
    }),
    (c) => {
      const before = getTarget(deps, c.req.valid('param').id);
      if (!c.get('access').isPlatformAdmin) throw new KeygateError('forbidden');
      const body = c.req.valid('json');
      assertProviderEnv(deps, body.upstream?.api_key_env);
      const row = mutate(deps, c, (journal) => {
        const columns: TargetColumns = { updated_at: journal.now };
        if (body.name !== undefined) {
          uniqueName(deps, body.name, before.id);
          columns.name = body.name;
        }
        if (body.upstream?.base_url !== undefined) columns.base_url = body.upstream.base_url;
        if (body.upstream?.model !== undefined) columns.upstream_model = body.upstream.model;
        if (body.upstream?.api_key_env !== undefined) columns.api_key_env = body.upstream.api_key_env;
        if (body.pricing?.input_per_mtok !== undefined)
          columns.input_micros_per_mtok = usdToMicros(body.pricing.input_per_mtok);
        if (body.pricing?.output_per_mtok !== undefined)
          columns.output_micros_per_mtok = usdToMicros(body.pricing.output_per_mtok);
        if (body.tags !== undefined) columns.tags = encodeTags(body.tags);
        return updateAudited(journal, {
          before,
          view: targetView,
          update: () => updateRow(deps.db, 'targets', before.id, columns),
          reload: () => getTarget(deps, before.id),
          audit: { action: 'target.update', entityType: 'target', entityId: before.id },
          change: 'target',
        });
      });
      return c.json(targetView(row), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/targets/{id}',
      security,
      request: { params: idParam },
      responses: { 204: { description: 'Deleted' } },
    }),
    (c) => {
      const before = getTarget(deps, c.req.valid('param').id);
      if (!c.get('access').isPlatformAdmin) throw new KeygateError('forbidden');
      mutate(deps, c, (journal) => {
        deleteTarget(deps.db, before.id);
        journal.audit({
          action: 'target.delete',
          entityType: 'target',
          entityId: before.id,
          before: targetView(before),
        });
        journal.change('target', before.id);
      });
      return c.body(null, 204);
    },
  );
}
