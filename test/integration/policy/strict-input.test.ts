/**
 * Strict input (issue 14 item 1): every admin route refuses an unknown query parameter and an
 * unknown body field with 400 `invalid_request` naming it, and fields LiteLLM users try are
 * refused with keygate's equivalent in the message. The route list comes from /openapi.json, so
 * a route added later is covered without touching this test.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { createTestAdmin, type TestAdmin } from '../../helpers/admin-harness.js';

let admin: TestAdmin;
beforeEach(() => {
  admin = createTestAdmin();
});

interface Operation {
  method: string;
  path: string;
  hasBody: boolean;
}

async function operations(): Promise<Operation[]> {
  const doc = (await admin.call('GET', '/openapi.json')).body as {
    paths: Record<string, Record<string, { requestBody?: unknown }>>;
  };
  const out: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      out.push({
        method: method.toUpperCase(),
        path: path.replace(/\{(\w+)\}/g, 'x_$1'),
        hasBody: op.requestBody !== undefined,
      });
    }
  }
  return out;
}

describe('strict input on every admin route', () => {
  it('an unknown query parameter → 400 invalid_request with param naming it, on every route', async () => {
    const ops = await operations();
    expect(ops.length).toBeGreaterThan(30);
    for (const op of ops) {
      const body = op.hasBody ? {} : undefined;
      const res = await admin.call(op.method, `${op.path}?bogus_filter=1`, { body });
      expect({ op, status: res.status, param: res.body?.error?.param }).toEqual({
        op,
        status: 400,
        param: 'bogus_filter',
      });
    }
  });

  it('an unknown body field → 400 naming it, on every route with a JSON body', async () => {
    for (const op of (await operations()).filter((entry) => entry.hasBody)) {
      const res = await admin.call(op.method, op.path, { body: { bogus_field: 1 } });
      expect({ op, status: res.status, param: res.body?.error?.param }).toEqual({
        op,
        status: 400,
        param: 'bogus_field',
      });
    }
  });

  it('nested unknown fields are named with their path', async () => {
    const res = await admin.call('POST', '/v1/keys', {
      body: { name: 'k', team_id: 't', access: { mode: 'restrict', targets: [], extra: 1 } },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe('access.extra');
  });

  it.each([
    ['budget_duration', '1mo', 'budget_period'],
    ['models', ['gpt-4o'], 'access'],
    ['tpm', 10, 'tpm_limit'],
    ['key_alias', 'x', 'name'],
  ])(
    "LiteLLM field %s (%j) is refused; the message names keygate's equivalent %s",
    async (field, value, equivalent) => {
      const res = await admin.call('POST', '/v1/keys', { body: { name: 'k', team_id: 't', [field]: value } });
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe(field);
      expect(res.body.error.message).toContain(equivalent);
    },
  );

  it('a misspelled usage filter can never widen the scope to platform totals', async () => {
    const res = await admin.call('GET', '/v1/usage?user_id=u_1');
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe('user_id');
  });
});
