/**
 * A team's self-service budget ceiling bounds what one developer's own key may spend. A key
 * created with `budget_period: "day"` and `max_budget` at the ceiling passed the ceiling check
 * and then spent the ceiling again every day: the ceiling bounded one day, not the key. Under a
 * ceiling a self-service budget is a lifetime budget (docs/api.md "Keys", self-service).
 */
import { describe, expect, it } from 'vitest';
import { countRows } from '../admin/keys-fixtures.js';
import { keysWorld } from '../admin/keys-world.js';

describe('self-service budget ceiling and budget periods', () => {
  it('a self-service key with a budget period under a team ceiling → 400 budget_period_not_allowed, nothing written', async () => {
    const w = await keysWorld({ ss_budget_ceiling_micros: 5_000_000 });
    for (const period of ['day', 'week', 'month']) {
      const res = await w.createKey(
        { name: 'k', team_id: w.teamA1, max_budget: 5, budget_period: period },
        w.tokens.devA1,
      );
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'budget_period_not_allowed', param: 'budget_period' });
    }
    expect(countRows(w.admin.deps.db, 'keys')).toBe(0);

    // A lifetime budget at the ceiling is fine (budget_period absent or null).
    const absent = await w.createKey({ name: 'k', team_id: w.teamA1, max_budget: 5 }, w.tokens.devA1);
    expect(absent.status).toBe(201);
    expect(absent.body.key.budget_period).toBeNull();
    const lifetime = await w.createKey(
      { name: 'k2', team_id: w.teamA1, max_budget: 5, budget_period: null },
      w.tokens.devA1,
    );
    expect(lifetime.status).toBe(201);
  });

  it('the developer cannot add a period afterwards: PATCH of their own key is refused', async () => {
    const w = await keysWorld({ ss_budget_ceiling_micros: 5_000_000 });
    const created = await w.createKey({ name: 'k', team_id: w.teamA1, max_budget: 5 }, w.tokens.devA1);
    expect(created.status).toBe(201);
    const res = await w.admin.call('PATCH', `/v1/keys/${created.body.key.id}`, {
      token: w.tokens.devA1,
      body: { budget_period: 'day' },
    });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
  });

  it('without a team ceiling a self-service key may keep a budget period; a team admin may always set one', async () => {
    const free = await keysWorld();
    const own = await free.createKey(
      { name: 'k', team_id: free.teamA1, max_budget: 5, budget_period: 'day' },
      free.tokens.devA1,
    );
    expect(own.status).toBe(201);

    const w = await keysWorld({ ss_budget_ceiling_micros: 5_000_000 });
    const admin = await w.createKey(
      { name: 'k', team_id: w.teamA1, max_budget: 5, budget_period: 'day' },
      w.tokens.teamAdminA1,
    );
    expect(admin.status).toBe(201);
  });
});
