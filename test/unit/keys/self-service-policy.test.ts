/**
 * The self-service policy (admin/keys/self-service.ts) against the constraint table of issue 5,
 * as a model-based property: for any team policy, any number of the user's existing keys and any
 * request, the outcome is the first violated row of the table (or acceptance).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { enforceSelfServicePolicy, type TeamPolicyRow } from '../../../admin/keys/self-service.js';
import { resolveExpiry } from '../../../admin/keys/key-input.js';
import { KeygateError } from '../../../src/errors/keygate-error.js';
import { WINDOW_FIELDS, type WindowField } from '../../../src/policy/limits.js';
import { openDatabase } from '../../../src/storage/database.js';
import { Seeder } from '../../integration/admin/keys-fixtures.js';
import { DAY_MS } from '../../../src/ratelimit/windows.js';

const NOW = Date.UTC(2026, 2, 1);

const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: null });
/** The window limits and the parallel cap: each one a self-service key must keep within the team's. */
const CAPPED_FIELDS = [...WINDOW_FIELDS, 'max_parallel_requests'] as const;
type CappedField = WindowField | 'max_parallel_requests';
const limits = fc.record(
  Object.fromEntries(CAPPED_FIELDS.map((f) => [f, maybe(fc.integer({ min: 1, max: 1000 }))])) as Record<
    CappedField,
    fc.Arbitrary<number | null>
  >,
);

const policyArb = fc.record({
  enabled: fc.boolean(),
  maxKeys: maybe(fc.integer({ min: 1, max: 3 })),
  ceilingMicros: maybe(fc.integer({ min: 0, max: 10_000_000 })),
  requireExpiry: fc.boolean(),
  maxDays: maybe(fc.integer({ min: 1, max: 60 })),
  limits,
});
const requestArb = fc.record({
  budgetMicros: maybe(fc.integer({ min: 0, max: 20_000_000 })),
  expiryDays: maybe(fc.integer({ min: 1, max: 90 })),
  limits,
});

type Policy = typeof policyArb extends fc.Arbitrary<infer T> ? T : never;
type Request = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

/** The constraint table of issue 5, in order. */
function expected(policy: Policy, existing: number, request: Request): [string, string | null] | 'ok' {
  if (!policy.enabled) return ['self_service_disabled', null];
  if (policy.maxKeys !== null && existing >= policy.maxKeys) return ['max_keys_per_user_reached', null];
  if (
    policy.ceilingMicros !== null &&
    (request.budgetMicros === null || request.budgetMicros > policy.ceilingMicros)
  )
    return ['budget_exceeds_team_ceiling', 'max_budget'];
  if (policy.requireExpiry && request.expiryDays === null) return ['expiry_required', 'expires_at'];
  if (policy.maxDays !== null && (request.expiryDays === null || request.expiryDays > policy.maxDays))
    return ['expiry_exceeds_team_max', request.expiryDays === null ? 'expires_at' : 'expires_in_days'];
  for (const field of CAPPED_FIELDS) {
    const limit = policy.limits[field];
    const asked = request.limits[field];
    if (limit !== null && asked !== null && asked > limit) return ['limit_exceeds_team_limit', field];
  }
  return 'ok';
}

describe('self-service policy', () => {
  it('reports the first violated row of the constraint table, or accepts', () => {
    const db = openDatabase(':memory:');
    const seed = new Seeder(db, NOW);
    const org = seed.org();
    const user = seed.user('dev');
    fc.assert(
      fc.property(policyArb, fc.integer({ min: 0, max: 4 }), requestArb, (policy, existing, request) => {
        const teamId = seed.team(org, {
          ...policy.limits,
          ss_enabled: policy.enabled ? 1 : 0,
          ss_max_keys_per_user: policy.maxKeys,
          ss_budget_ceiling_micros: policy.ceilingMicros,
          ss_require_expiry: policy.requireExpiry ? 1 : 0,
          ss_max_expiry_days: policy.maxDays,
        });
        const insert = db.prepare(
          `INSERT INTO keys (id, name, team_id, owner_type, owner_user_id, status, token_hash, display, expires_at, created_at, updated_at)
           VALUES (?, 'k', ?, 'user', ?, ?, ?, 'd', ?, ?, ?)`,
        );
        // Existing active keys, plus a revoked and an expired one that must not count.
        for (let i = 0; i < existing; i++)
          insert.run(`${teamId}-a${i}`, teamId, user, 'active', `${teamId}-a${i}`, null, NOW, NOW);
        insert.run(`${teamId}-r`, teamId, user, 'revoked', `${teamId}-r`, null, NOW, NOW);
        insert.run(`${teamId}-e`, teamId, user, 'active', `${teamId}-e`, NOW - 1, NOW, NOW);
        const team = db.prepare('SELECT * FROM teams WHERE id = ?').get(teamId) as TeamPolicyRow;
        let outcome: [string, string | null] | 'ok' = 'ok';
        try {
          enforceSelfServicePolicy(
            db,
            team,
            user,
            {
              maxBudgetMicros: request.budgetMicros,
              budgetShadow: false,
              budgetPeriod: null,
              limits: request.limits,
              expiresAt: request.expiryDays === null ? null : NOW + request.expiryDays * DAY_MS,
              expiryParam: 'expires_in_days',
            },
            NOW,
          );
        } catch (error) {
          if (!(error instanceof KeygateError)) throw error;
          outcome = [error.code, error.param];
        }
        expect(outcome).toEqual(expected(policy, existing, request));
      }),
      { numRuns: 400 },
    );
  });
});

describe('resolveExpiry', () => {
  it('takes expires_at or expires_in_days, never both, and refuses a moment not in the future', () => {
    expect(resolveExpiry({}, NOW)).toEqual({ value: undefined, param: 'expires_at' });
    expect(resolveExpiry({ expires_at: null }, NOW)).toEqual({ value: null, param: 'expires_at' });
    expect(resolveExpiry({ expires_in_days: 2 }, NOW)).toEqual({
      value: NOW + 2 * DAY_MS,
      param: 'expires_in_days',
    });
    expect(resolveExpiry({ expires_at: new Date(NOW + 1).toISOString() }, NOW).value).toBe(NOW + 1);
    expect(() => resolveExpiry({ expires_at: new Date(NOW).toISOString() }, NOW)).toThrow(KeygateError);
    expect(() =>
      resolveExpiry({ expires_at: new Date(NOW + DAY_MS).toISOString(), expires_in_days: 1 }, NOW),
    ).toThrow(/either/);
  });
});
