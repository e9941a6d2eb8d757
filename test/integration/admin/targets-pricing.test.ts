/**
 * A target created without pricing costs $0, so budgets never trip on its traffic (issue 13,
 * item 12): the create response carries a warning and the admin log a warn line; with
 * KEYGATE_REQUIRE_PRICING=true such a target is refused (400 invalid_request, param pricing).
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createAdminApp } from '../../../admin/app.js';
import { createTestAdmin } from '../../helpers/admin-harness.js';

const upstream = { base_url: 'http://127.0.0.1:9/v1' };

describe('targets without pricing', () => {
  it('are created with a warning in the response and a warn line in the log', async () => {
    const admin = createTestAdmin();
    const lines: { level: number; msg: string; target?: string }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const app = createAdminApp({ ...admin.deps, logger });
    const response = await app.request('/v1/targets', {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.deps.config.masterKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'free-model', upstream }),
    });
    expect(response.status).toBe(201);
    const body = (await response.json()) as { warnings?: string[]; pricing: unknown };
    expect(body.pricing).toEqual({ input_per_mtok: 0, output_per_mtok: 0 });
    expect(body.warnings).toEqual([expect.stringContaining('no pricing')]);
    expect(lines).toContainEqual(expect.objectContaining({ level: 40, target: 'free-model' }));
  });

  it('a priced target gets no warning', async () => {
    const admin = createTestAdmin();
    const created = await admin.call('POST', '/v1/targets', {
      body: { name: 'priced', upstream, pricing: { input_per_mtok: 1, output_per_mtok: 2 } },
    });
    expect(created.status).toBe(201);
    expect(created.body.warnings).toBeUndefined();
  });

  it('KEYGATE_REQUIRE_PRICING=true refuses a target without pricing, and accepts one with it', async () => {
    const admin = createTestAdmin({ KEYGATE_REQUIRE_PRICING: 'true' });
    const refused = await admin.call('POST', '/v1/targets', { body: { name: 'free-model', upstream } });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'invalid_request', param: 'pricing' });
    expect(admin.deps.db.prepare('SELECT COUNT(*) AS n FROM targets').get()).toEqual({ n: 0 });
    const priced = await admin.call('POST', '/v1/targets', {
      body: { name: 'priced', upstream, pricing: { input_per_mtok: 1, output_per_mtok: 2 } },
    });
    expect(priced.status).toBe(201);
  });
});
