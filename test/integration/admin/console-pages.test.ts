/**
 * Console rendering rules that the browser tests cannot reach on this branch: Block/Unblock and
 * the budget period appear only when the keys API reports `blocked` / `budget_period`; row
 * actions follow the caller's permissions (the API still decides). Also: every page answers
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
};

const html = (node: unknown) => String(node);

describe('console key rendering', () => {
  it('shows Block/Unblock only when the API reports `blocked`', () => {
    expect(html(KeyActionButtons({ me: admin, k: key }))).not.toContain('data-action="block"');
    expect(html(KeyActionButtons({ me: admin, k: { ...key, blocked: false } }))).toContain(
      'data-action="block"',
    );
    expect(html(KeyActionButtons({ me: admin, k: { ...key, blocked: true } }))).toContain(
      'data-action="unblock"',
    );
  });

  it('offers no action to a caller with only key.read', () => {
    expect(html(KeyActionButtons({ me: viewer, k: { ...key, blocked: false } }))).not.toContain(
      'data-action',
    );
  });

  it('shows the budget period when the API reports one', () => {
    expect(html(Budget({ keyView: key }))).not.toContain(' per ');
    expect(html(Budget({ keyView: { ...key, budget_period: 'month' } }))).toContain('of $50.00 per month');
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
