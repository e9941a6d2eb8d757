/**
 * Asset-access changes reach a real gateway process within 1 s of the admin API answering
 * (issue 6): targets created later that match a group rule, team narrowing, org narrowing. Run
 * with pushes on, and with pushes off (the periodic change-feed pull alone must keep the promise).
 * Real processes: admin plane, gateway, mock upstream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { msUntil, startStack, type Stack } from '../helpers/e2e-stack.js';

const BOUND_MS = 1000;

for (const mode of [
  { push: true, name: 'pushes on' },
  { push: false, name: 'pushes off (change-feed pull only)' },
]) {
  describe(`asset access at the gateway, ${mode.name}: effective within ${BOUND_MS} ms`, () => {
    let stack: Stack;
    let n = 0;
    const unique = (prefix: string) => `${prefix}-${mode.push ? 'p' : 'f'}${++n}`;

    const api = async (
      method: string,
      path: string,
      body?: unknown,
      status = method === 'POST' ? 201 : 200,
    ) => {
      const result = await stack.api(method, path, body);
      if (result.status !== status)
        throw new Error(`${method} ${path}: ${result.status} ${JSON.stringify(result.body)}`);
      return result.body;
    };
    const target = (name: string) =>
      api('POST', '/v1/targets', {
        name,
        upstream: { base_url: `${stack.mockUrl}/v1`, model: 'mock-model' },
      });
    const key = async (teamId: string, access?: unknown) =>
      (await api('POST', '/v1/keys', {
        name: unique('key'),
        team_id: teamId,
        owner: { type: 'service_account', create: { name: unique('svc') } },
        access,
      })) as { key: { id: string; effective_targets: string[] }; secret: string };
    const call = (secret: string, model: string) =>
      fetch(`${stack.gatewayUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }),
      });
    const status = async (secret: string, model: string) => {
      const response = await call(secret, model);
      const body = (await response.json()) as { error?: { code: string } };
      return { status: response.status, code: body.error?.code ?? null };
    };
    const succeeded = (s: number) => s === 200;
    /** The first successful call (a new target reaches a pull-only gateway within the bound too). */
    const warm = async (secret: string, model: string) =>
      expect(await msUntil(Date.now(), () => call(secret, model), succeeded)).toBeLessThan(BOUND_MS);
    const refusedWith = (code: string) => (s: number, body: any) => s !== 200 && body?.error?.code === code;

    beforeAll(async () => {
      stack = await startStack({ push: mode.push });
    }, 60_000);
    afterAll(() => stack?.stop());

    it('a key bound to a glob group can call a target created after the key', async () => {
      const glob = unique('late');
      const org = await api('POST', '/v1/orgs', { name: unique('org') });
      const team = await api('POST', '/v1/teams', { org_id: org.id, name: unique('team') });
      const group = await api('POST', '/v1/access-groups', {
        name: unique('group'),
        match: { name_glob: `${glob}-*` },
      });
      const { key: view, secret } = await key(team.id, {
        mode: 'restrict',
        targets: [],
        access_groups: [group.id],
      });
      expect(view.effective_targets).toEqual([]);
      // The gateway has this key's policy cached and does not know the target yet.
      expect(await status(secret, `${glob}-1`)).toEqual({ status: 404, code: 'model_not_found' });

      await target(`${glob}-1`);
      const since = Date.now();
      const ms = await msUntil(since, () => call(secret, `${glob}-1`), succeeded);
      expect(ms).toBeLessThan(BOUND_MS);
      expect((await api('GET', `/v1/keys/${view.id}`)).effective_targets).toEqual([`${glob}-1`]);
      // a target outside the glob is known to the gateway but not allowed
      const outside = unique('outside');
      await target(outside);
      await msUntil(Date.now(), () => call(secret, outside), refusedWith('model_not_allowed'));
    });

    it("removing a target from the team's restrict set makes the key's call 403 model_not_allowed", async () => {
      const [a, b] = [unique('a'), unique('b')];
      await target(a);
      await target(b);
      const org = await api('POST', '/v1/orgs', { name: unique('org') });
      const team = await api('POST', '/v1/teams', {
        org_id: org.id,
        name: unique('team'),
        access: { mode: 'restrict', targets: [a, b], access_groups: [] },
      });
      const { secret } = await key(team.id);
      await warm(secret, a);

      await api('PATCH', `/v1/teams/${team.id}`, {
        access: { mode: 'restrict', targets: [b], access_groups: [] },
      });
      const ms = await msUntil(Date.now(), () => call(secret, a), refusedWith('model_not_allowed'));
      expect(ms).toBeLessThan(BOUND_MS);
      expect((await status(secret, b)).status).toBe(200);
    });

    it('org narrowing propagates to team and key without touching their bindings', async () => {
      const [a, b] = [unique('a'), unique('b')];
      await target(a);
      await target(b);
      const org = await api('POST', '/v1/orgs', { name: unique('org') });
      const team = await api('POST', '/v1/teams', { org_id: org.id, name: unique('team') });
      const { key: view, secret } = await key(team.id, {
        mode: 'restrict',
        targets: [a, b],
        access_groups: [],
      });
      await warm(secret, a);

      await api('PATCH', `/v1/orgs/${org.id}`, {
        access: { mode: 'restrict', targets: [b], access_groups: [] },
      });
      const ms = await msUntil(Date.now(), () => call(secret, a), refusedWith('model_not_allowed'));
      expect(ms).toBeLessThan(BOUND_MS);
      expect((await status(secret, b)).status).toBe(200);
      const after = await api('GET', `/v1/keys/${view.id}`);
      expect(after.access.targets).toEqual([a, b].sort());
      expect(after.effective_targets).toEqual([b]);
      const models = (await (
        await fetch(`${stack.gatewayUrl}/v1/models`, { headers: { authorization: `Bearer ${secret}` } })
      ).json()) as { data: { id: string }[] };
      expect(models.data.map((m) => m.id)).toEqual([b]);
    });

    it('re-tagging a target into and out of a tag group, and editing a group, reach the key', async () => {
      const [tag, name, other] = [unique('tag'), unique('retag'), unique('explicit')];
      const created = await target(name);
      await target(other);
      const group = await api('POST', '/v1/access-groups', { name: unique('group'), match: { tags: [tag] } });
      const team = await api('POST', '/v1/teams', {
        org_id: (await api('POST', '/v1/orgs', { name: unique('org') })).id,
        name: unique('team'),
      });
      const { secret } = await key(team.id, { mode: 'restrict', targets: [], access_groups: [group.id] });
      await msUntil(Date.now(), () => call(secret, name), refusedWith('model_not_allowed'));

      await api('PATCH', `/v1/targets/${created.id}`, { tags: [tag] });
      expect(await msUntil(Date.now(), () => call(secret, name), succeeded)).toBeLessThan(BOUND_MS);
      await api('PATCH', `/v1/targets/${created.id}`, { tags: [] });
      expect(
        await msUntil(Date.now(), () => call(secret, name), refusedWith('model_not_allowed')),
      ).toBeLessThan(BOUND_MS);
      await api('PATCH', `/v1/access-groups/${group.id}`, { targets: [other] });
      expect(await msUntil(Date.now(), () => call(secret, other), succeeded)).toBeLessThan(BOUND_MS);
    });

    it('deleting a target makes calls to it 404 model_not_found', async () => {
      const name = unique('doomed');
      const created = await target(name);
      const team = await api('POST', '/v1/teams', {
        org_id: (await api('POST', '/v1/orgs', { name: unique('org') })).id,
        name: unique('team'),
      });
      const { secret } = await key(team.id);
      await warm(secret, name);
      await api('DELETE', `/v1/targets/${created.id}`, undefined, 204);
      const ms = await msUntil(Date.now(), () => call(secret, name), refusedWith('model_not_found'));
      expect(ms).toBeLessThan(BOUND_MS);
    });
  });
}
