/**
 * A team's self-service budget ceiling bounds what a developer's own key may spend. A shadow
 * budget (`{"value": 5, "mode": "shadow"}`) is counted but never refuses (docs/api.md "Shadow
 * limits"), so a self-service key created with one passed the ceiling check on its value and
 * then spent without any bound: the ceiling was a formality. Self-service budgets must be
 * enforced whenever the team has a ceiling.
 */
import { describe, expect, it } from 'vitest';
import { countRows } from '../admin/keys-fixtures.js';
import { keysWorld } from '../admin/keys-world.js';

describe('self-service budget ceiling and shadow budgets', () => {
  it('a self-service key with a shadow budget under a team ceiling → 400 budget_exceeds_team_ceiling, nothing written', async () => {
    const w = await keysWorld({ ss_budget_ceiling_micros: 5_000_000 });
    const res = await w.createKey(
      { name: 'k', team_id: w.teamA1, max_budget: { value: 5, mode: 'shadow' } },
      w.tokens.devA1,
    );
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'budget_exceeds_team_ceiling', param: 'max_budget' });
    expect(countRows(w.admin.deps.db, 'keys')).toBe(0);

    // The enforced form of the same budget is fine, and so is {value, mode: "enforce"}.
    const plain = await w.createKey({ name: 'k', team_id: w.teamA1, max_budget: 5 }, w.tokens.devA1);
    expect(plain.status).toBe(201);
    const modal = await w.createKey(
      { name: 'k2', team_id: w.teamA1, max_budget: { value: 5, mode: 'enforce' } },
      w.tokens.devA1,
    );
    expect(modal.status).toBe(201);
    expect(modal.body.key.limit_modes).toEqual({});
  });

  it('without a team ceiling a self-service shadow budget stays allowed (no budget at all is allowed too)', async () => {
    const w = await keysWorld();
    const res = await w.createKey(
      { name: 'k', team_id: w.teamA1, max_budget: { value: 5, mode: 'shadow' } },
      w.tokens.devA1,
    );
    expect(res.status).toBe(201);
    expect(res.body.key.limit_modes).toEqual({ max_budget: 'shadow' });
  });

  it('a team admin may still give a key a shadow budget above the self-service ceiling', async () => {
    const w = await keysWorld({ ss_budget_ceiling_micros: 5_000_000 });
    const res = await w.createKey(
      { name: 'k', team_id: w.teamA1, max_budget: { value: 50, mode: 'shadow' } },
      w.tokens.teamAdminA1,
    );
    expect(res.status).toBe(201);
  });
});
