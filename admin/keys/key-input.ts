/**
 * Request schemas of the keys API (API.md "Keys") and the small pure conversions of their fields
 * (expiry, metadata) shared by create and update.
 */
import { z } from '@hono/zod-openapi';
import { KeygateError } from '../../src/errors/keygate-error.js';
import { limitFields, listQuery, restrictAccess, nameText } from '../schemas.js';
import { DAY_MS } from '../../src/ratelimit/windows.js';

const MAX_METADATA_BYTES = 16_384;
/** Objects and arrays nested in `metadata`, the outermost object counted (as gateway bodies). */
const MAX_METADATA_DEPTH = 64;
/** Regenerate grace periods are capped at 30 days. */
export const MAX_GRACE_SECONDS = 30 * 86_400;

const keyAccess = z.union([z.object({ mode: z.literal('inherit') }), restrictAccess]);

const owner = z.union([
  z.object({ type: z.literal('user') }),
  z.object({ type: z.literal('service_account'), id: z.string().min(1).max(128) }),
  z.object({
    type: z.literal('service_account'),
    create: z.object({
      name: nameText,
      description: z.string().max(2000).optional(),
    }),
  }),
]);

const expiryFields = {
  expires_at: z.iso.datetime({ offset: true }).nullable().optional(),
  expires_in_days: z.number().int().positive().max(36_500).optional(),
};

const metadata = z.record(z.string(), z.unknown());

/** Tags on a key (issue 14 item 6): at most 20, each 1-64 of `A-Za-z0-9._:-`. */
export const TAG = /^[A-Za-z0-9._:-]{1,64}$/;
const tags = z.array(z.string().regex(TAG, 'a tag is 1-64 of A-Za-z0-9._:-')).max(20);

const tagFields = {
  tags: tags.optional(),
  /** Whether requests may add their own tags with `x-keygate-tags` (off by default). */
  allow_request_tags: z.boolean().optional(),
};

export const KeyCreate = z.object({
  name: nameText,
  team_id: z.string().min(1).max(128),
  owner: owner.optional(),
  ...limitFields,
  ...expiryFields,
  access: keyAccess.optional(),
  metadata: metadata.optional(),
  ...tagFields,
});
export type KeyCreateInput = z.infer<typeof KeyCreate>;

export const KeyUpdate = z.object({
  name: nameText.optional(),
  ...limitFields,
  ...expiryFields,
  access: keyAccess.optional(),
  metadata: metadata.optional(),
  ...tagFields,
});

export const KeyRegenerate = z.object({
  grace_period_seconds: z.number().int().min(0).max(MAX_GRACE_SECONDS).optional(),
});

export const KeyListQuery = z.object({
  view: z.enum(['all', 'mine']).optional(),
  team_id: z.string().min(1).max(128).optional(),
  status: z.enum(['active', 'blocked', 'revoked']).optional(),
  q: z.string().max(200).optional(),
  tag: z.string().max(64).optional(),
  ...listQuery,
});

export interface ResolvedExpiry {
  /** Epoch ms, `null` = never expires, `undefined` = not given (PATCH: leave as is). */
  value: number | null | undefined;
  param: 'expires_at' | 'expires_in_days';
}

/** `expires_at` (ISO) or `expires_in_days`, never both; a moment not after `now` is refused. */
export function resolveExpiry(
  body: { expires_at?: string | null | undefined; expires_in_days?: number | undefined },
  now: number,
): ResolvedExpiry {
  if (body.expires_at !== undefined && body.expires_in_days !== undefined) {
    throw new KeygateError('invalid_request', {
      param: 'expires_in_days',
      message: 'Give either expires_at or expires_in_days, not both.',
    });
  }
  if (body.expires_in_days !== undefined) {
    return { value: now + body.expires_in_days * DAY_MS, param: 'expires_in_days' };
  }
  if (body.expires_at === undefined || body.expires_at === null) {
    return { value: body.expires_at, param: 'expires_at' };
  }
  const at = Date.parse(body.expires_at);
  if (!(at > now)) {
    throw new KeygateError('invalid_request', {
      param: 'expires_at',
      message: 'expires_at must be in the future.',
    });
  }
  return { value: at, param: 'expires_at' };
}

/** Column values of the tag fields present in `body`. */
export function tagColumns(body: { tags?: string[] | undefined; allow_request_tags?: boolean | undefined }) {
  const out: Record<string, string | number> = {};
  if (body.tags !== undefined) out.tags = JSON.stringify([...new Set(body.tags)]);
  if (body.allow_request_tags !== undefined) out.allow_request_tags = body.allow_request_tags ? 1 : 0;
  return out;
}

/** Whether `value` nests objects/arrays more than `max` levels (iterative: any depth is safe). */
function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== 'object' || item === null) continue;
    if (depth > max) return true;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return false;
}

export function metadataText(value: Record<string, unknown>): string {
  // Checked before JSON.stringify, which recurses and overflows the stack a few thousand levels down.
  if (nestsDeeperThan(value, MAX_METADATA_DEPTH)) {
    throw new KeygateError('invalid_request', {
      param: 'metadata',
      message: `metadata must nest at most ${MAX_METADATA_DEPTH} levels of objects and arrays.`,
    });
  }
  const text = JSON.stringify(value);
  if (Buffer.byteLength(text) > MAX_METADATA_BYTES) {
    throw new KeygateError('invalid_request', {
      param: 'metadata',
      message: `metadata must be at most ${MAX_METADATA_BYTES} bytes of JSON.`,
    });
  }
  return text;
}
