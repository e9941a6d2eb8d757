/**
 * Console rendering rules: Block on an active key, Unblock on a key blocked by itself (not on one
 * blocked through its owner: that is the user's unblock); the budget shows the period's spend
 * with the period when the key has one; row actions follow the caller's permissions (the API
 * still decides). Also: every page answers
 * through the same JSON routes as curl, so a key the caller cannot see is "not available".
 */
import { describe, expect, it } from 'vitest';
import type { Me } from '../../../admin/console/console-context.js';
import type { KeyView } from '../../../admin/console/key-types.js';
import { Budget, KeyActionButtons } from '../../../admin/console/keys-page.js';
import { createTestAdmin, TEST_MASTER_KEY } from '../../helpers/admin-harness.js';

const admin: Me = {
  user: null,
  caller: { type: 'master_key', id: null },
  permissions: { platform: ['key.update'], orgs: {}, teams: {} },
};
const viewer: Me = {
  user: { id: 'usr_v', email: 'v@example.com', name: null, platform_role: 'org_user' },
  caller: { type: 'user', id: 'usr_v' },
  permissions: { platform: [], orgs: { org_1: ['key.read'] }, teams: { team_1: ['key.read'] } },
};

const key: KeyView = {
  id: 'key_1',
  name: 'k',
  display: 'kg_abcd…wxyz',
  team: { id: 'team_1', name: 't' },
  org_id: 'org_1',
  owner: { type: 'service_account', id: 'sa_1', name: 'svc' },
  status: 'active',
  self_service: false,
  max_budget: 50,
  spend: 5,
  budget_progress: 0.1,
  rpm_limit: null,
  tpm_limit: null,
  rph_limit: null,
  rpd_limit: null,
  tpd_limit: null,
  expires_at: null,
  access: { mode: 'inherit', targets: [], access_groups: [] },
  effective_targets: [],
  created_at: null,
  last_used_at: null,
  budget_period: null,
  period_spend: null,
  period_resets_at: null,
  max_parallel_requests: null,
};

const html = (node: unknown) => String(node);

describe('console key rendering', () => {
  it('shows Block on an active key, Unblock on a key blocked by itself, neither when the owner is blocked', () => {
    expect(html(KeyActionButtons({ me: admin, k: key }))).toContain('data-action="block"');
    const blocked = { ...key, status: 'blocked', blocked_by: 'key' as const };
    expect(html(KeyActionButtons({ me: admin, k: blocked }))).toContain('data-action="unblock"');
    const byOwner = html(KeyActionButtons({ me: admin, k: { ...blocked, blocked_by: 'owner' as const } }));
    expect(byOwner).not.toContain('block"');
    expect(html(KeyActionButtons({ me: admin, k: { ...key, status: 'revoked' } }))).not.toContain('block"');
  });

  it('offers no action to a caller with only key.read', () => {
    expect(html(KeyActionButtons({ me: viewer, k: key }))).not.toContain('data-action');
  });

  it('shows the period spend with the period and its reset when the key has a budget period', () => {
    expect(html(Budget({ keyView: key }))).toContain('$5.00 <span class="muted">of $50.00</span>');
    const monthly = html(
      Budget({
        keyView: {
          ...key,
          budget_period: 'month',
          period_spend: 1.25,
          period_resets_at: '2026-12-01T00:00:00.000Z',
        },
      }),
    );
    expect(monthly).toContain('$1.25 <span class="muted">of $50.00 per month</span>');
    expect(monthly).toContain('resets 2026-12-01 00:00 UTC');
  });
});

describe('console pages read through the API', () => {
  it('a key id the caller cannot see renders as not available (the API answered 404)', async () => {
    const harness = createTestAdmin();
    const page = await harness.app.request('/sign-in');
    const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const pre = page.headers.getSetCookie()[0]!.split(';')[0]!;
    const signedIn = await harness.app.request('/sign-in', {
      method: 'POST',
      headers: { cookie: pre, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf, method: 'master', master_key: TEST_MASTER_KEY }).toString(),
    });
    const cookie = signedIn.headers
      .getSetCookie()
      .find((l) => l.startsWith('kg_session='))!
      .split(';')[0]!;
    const detail = await harness.app.request('/keys/key_missing', { headers: { cookie } });
    expect(detail.status).toBe(200);
    expect(await detail.text()).toContain('This key could not be loaded (404)');
  });
});
