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
import type { AdminApp } from '../app.js';
import type { AdminDeps } from '../context.js';
import { mutate } from '../mutation.js';
import { paginate } from '../pagination.js';
import { idParam, isoOrNull, json, listQuery, ok, security, setClause } from '../schemas.js';

export interface TargetRow {
  id: string;
  name: string;
  base_url: string;
  upstream_model: string | null;
  api_key_env: string | null;
  input_micros_per_mtok: number;
  output_micros_per_mtok: number;
  tags: string;
  created_at: number;
  updated_at: number;
}

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

const tagList = z.array(z.string().trim().min(1).max(100)).max(50);
const price = z.number().nonnegative().max(1e6);

const TargetCreate = z.object({
  name: targetName,
  upstream: z.object({
    base_url: baseUrl,
    model: z.string().min(1).max(200).nullable().optional(),
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

export function parseTags(text: string): string[] {
  const parsed: unknown = JSON.parse(text);
  return Array.isArray(parsed) ? parsed.filter((t): t is string => typeof t === 'string') : [];
}

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
  const row = deps.db.prepare('SELECT * FROM targets WHERE id = ?').get(id) as TargetRow | undefined;
  if (row === undefined) throw new KeygateError('not_found');
  return row;
}

function uniqueName(deps: AdminDeps, name: string, exceptId: string | null): void {
  const clash = deps.db.prepare('SELECT id FROM targets WHERE name = ? AND id IS NOT ?').get(name, exceptId);
  if (clash !== undefined)
    throw new KeygateError('conflict', {
      param: 'name',
      message: `A target named "${name}" already exists.`,
    });
}

function normalizeTags(tags: readonly string[]): string {
  return JSON.stringify([...new Set(tags)]);
}

export function registerTargetRoutes(app: AdminApp, deps: AdminDeps): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/targets',
      security,
      request: { body: json(TargetCreate) },
      responses: { 201: ok('The created target') },
    }),
    (c) => {
      if (!c.get('access').isPlatformAdmin) throw new KeygateError('forbidden');
      const body = c.req.valid('json');
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
        deps.db
          .prepare(
            `INSERT INTO targets (id, name, base_url, upstream_model, api_key_env, input_micros_per_mtok,
               output_micros_per_mtok, tags, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            id,
            body.name,
            body.upstream.base_url,
            body.upstream.model ?? null,
            body.upstream.api_key_env ?? null,
            usdToMicros(body.pricing?.input_per_mtok ?? 0),
            usdToMicros(body.pricing?.output_per_mtok ?? 0),
            normalizeTags(body.tags ?? []),
            journal.now,
            journal.now,
          );
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
      const filter =
        query.tag === undefined
          ? 'WHERE 1'
          : 'WHERE EXISTS (SELECT 1 FROM json_each(targets.tags) WHERE value = ?)';
      const page = paginate(
        (sql, params) => deps.db.prepare(sql).all(...params) as TargetRow[],
        `SELECT * FROM targets ${filter}`,
        query.tag === undefined ? [] : [query.tag],
        query,
      );
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
      request: { params: idParam, body: json(TargetUpdate) },
      responses: { 200: ok('The updated target') },
    }),
    (c) => {
      const before = getTarget(deps, c.req.valid('param').id);
      if (!c.get('access').isPlatformAdmin) throw new KeygateError('forbidden');
      const body = c.req.valid('json');
      const row = mutate(deps, c, (journal) => {
        const columns: Record<string, unknown> = { updated_at: journal.now };
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
        if (body.tags !== undefined) columns.tags = normalizeTags(body.tags);
        deps.db
          .prepare(`UPDATE targets SET ${setClause(columns)} WHERE id = @id`)
          .run({ ...columns, id: before.id });
        const after = getTarget(deps, before.id);
        journal.audit({
          action: 'target.update',
          entityType: 'target',
          entityId: before.id,
          before: targetView(before),
          after: targetView(after),
        });
        journal.change('target', before.id);
        return after;
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
        // Bindings and explicit group memberships go with it (ON DELETE CASCADE).
        deps.db.prepare('DELETE FROM targets WHERE id = ?').run(before.id);
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
