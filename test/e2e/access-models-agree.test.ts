/**
 * The gateway's `/v1/models` and its 403 `model_not_allowed` agree exactly with the admin's
 * `KeyView.effective_targets` (issue 6), over 50 random configurations applied one after the
 * other to the same org, team and keys: random org/team/key scope policies (targets and access
 * groups with globs, tags and explicit members) and random re-tagging of targets. Each
 * configuration must be visible at the gateway within 1 s. Real processes: admin, gateway,
 * mock upstream. The seed is printed so a failure can be replayed (E2E_ACCESS_SEED).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { msUntil, startStack, type Stack } from '../helpers/e2e-stack.js';

const CONFIGURATIONS = 50;
const BOUND_MS = 1000;
const TAGS = ['red', 'blue', 'green'];
const NAMES = ['alpha-1', 'alpha-2', 'beta-1', 'beta-2', 'gamma', 'delta-2', 'omega'];

/** mulberry32: a small seeded PRNG, so a failing run can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('gateway /v1/models and model_not_allowed equal KeyView.effective_targets', () => {
  let stack: Stack;
  const seed = Number(process.env.E2E_ACCESS_SEED ?? Date.now() % 1_000_000);
  const random = rng(seed);
  const chance = (p: number) => random() < p;
  const pick = <T>(items: readonly T[]): T[] => items.filter(() => chance(0.5));

  const api = async (method: string, path: string, body?: unknown) => {
    const result = await stack.api(method, path, body);
    if (result.status >= 300)
      throw new Error(`${method} ${path}: ${result.status} ${JSON.stringify(result.body)}`);
    return result.body;
  };

  beforeAll(async () => {
    stack = await startStack({ push: true });
  }, 60_000);
  afterAll(() => stack?.stop());

  it(`agree for ${CONFIGURATIONS} random configurations, each visible within ${BOUND_MS} ms`, async () => {
    console.log(`access-models-agree seed=${seed}`);
    const targets = new Map<string, string>(); // name → id
    for (const name of NAMES) {
      const created = await api('POST', '/v1/targets', {
        name,
        upstream: { base_url: `${stack.mockUrl}/v1`, model: 'mock-model' },
        tags: pick(TAGS),
      });
      targets.set(name, created.id);
    }
    const org = await api('POST', '/v1/orgs', { name: 'random-org' });
    const team = await api('POST', '/v1/teams', { org_id: org.id, name: 'random-team' });
    const groups = [
      await api('POST', '/v1/access-groups', { name: 'alphas', match: { name_glob: 'alpha-*' } }),
      await api('POST', '/v1/access-groups', { name: 'reds', match: { tags: ['red'] } }),
      await api('POST', '/v1/access-groups', {
        name: 'twos-blue',
        match: { name_glob: '*-2', tags: ['blue'] },
      }),
      await api('POST', '/v1/access-groups', { name: 'picked', targets: ['beta-1', 'gamma'] }),
      await api('POST', '/v1/access-groups', {
        name: 'org-greens',
        org_id: org.id,
        targets: ['omega'],
        match: { tags: ['green'] },
      }),
    ].map((g: { id: string }) => g.id);
    const keys = [];
    for (const name of ['varied', 'inheriting']) {
      keys.push(
        await api('POST', '/v1/keys', {
          name,
          team_id: team.id,
          owner: { type: 'service_account', create: { name: `svc-${name}` } },
        }),
      );
    }

    let refusedNarrowings = 0;
    /** A random restriction; when the admin refuses it as outside the parent, try smaller ones. */
    const narrow = async (path: string) => {
      if (chance(0.3)) return api('PATCH', path, { access: { mode: 'inherit' } });
      let fraction = 1;
      for (let attempt = 0; attempt < 4; attempt++, fraction /= 2) {
        const access = {
          mode: 'restrict',
          targets: pick([...targets.keys()]).filter(() => chance(fraction)),
          access_groups: pick(groups).filter(() => chance(fraction)),
        };
        const result = await stack.api('PATCH', path, { access });
        if (result.status === 200) return result.body;
        expect(result.body.error.code, JSON.stringify(result.body)).toBe('target_not_in_parent_scope');
        refusedNarrowings++;
      }
      return api('PATCH', path, { access: { mode: 'inherit' } });
    };

    const convergence: number[] = [];
    const sizes: number[] = [];
    for (let i = 0; i < CONFIGURATIONS; i++) {
      for (const [, id] of targets)
        if (chance(0.15)) await api('PATCH', `/v1/targets/${id}`, { tags: pick(TAGS) });
      await api('PATCH', `/v1/orgs/${org.id}`, {
        access: chance(0.3)
          ? { mode: 'all' }
          : { mode: 'restrict', targets: pick([...targets.keys()]), access_groups: pick(groups) },
      });
      await narrow(`/v1/teams/${team.id}`);
      await narrow(`/v1/keys/${keys[0].key.id}`);
      const changedAt = Date.now();

      for (const { key, secret } of keys) {
        const expected: string[] = (await api('GET', `/v1/keys/${key.id}`)).effective_targets;
        sizes.push(expected.length);
        const auth = { authorization: `Bearer ${secret}` };
        const ms = await msUntil(
          changedAt,
          () => fetch(`${stack.gatewayUrl}/v1/models`, { headers: auth }),
          (status, body) =>
            status === 200 &&
            JSON.stringify(body.data.map((m: { id: string }) => m.id)) === JSON.stringify(expected),
          3000,
        );
        convergence.push(ms);
        expect(ms, `configuration ${i} (seed ${seed})`).toBeLessThan(BOUND_MS);
        for (const name of targets.keys()) {
          const response = await fetch(`${stack.gatewayUrl}/v1/chat/completions`, {
            method: 'POST',
            headers: { ...auth, 'content-type': 'application/json' },
            body: JSON.stringify({ model: name, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
          });
          const body = (await response.json()) as { error?: { code: string } };
          const want = expected.includes(name) ? 200 : 403;
          expect(response.status, `configuration ${i}, ${key.name} → ${name} (seed ${seed})`).toBe(want);
          if (want === 403) expect(body.error?.code).toBe('model_not_allowed');
        }
      }
    }
    convergence.sort((a, b) => a - b);
    console.log(
      `access-models-agree: ${CONFIGURATIONS} configurations × ${keys.length} keys; ` +
        `effective set sizes min ${Math.min(...sizes)} max ${Math.max(...sizes)} ` +
        `(empty ${sizes.filter((s) => s === 0).length}, full ${sizes.filter((s) => s === NAMES.length).length}); ` +
        `narrowings refused as outside the parent: ${refusedNarrowings}; ` +
        `convergence ms p50 ${convergence[Math.floor(convergence.length / 2)]} max ${convergence[convergence.length - 1]}`,
    );
    // The random walk must exercise both ends, or the agreement above proves little.
    expect(sizes.some((s) => s === 0)).toBe(true);
    expect(sizes.some((s) => s >= 3)).toBe(true);
  }, 180_000);
});
