import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  globMatches,
  groupMemberIds,
  namesOf,
  ownSelection,
  resolveChain,
  ruleSelects,
  type AccessGroupDef,
  type AccessTarget,
  type ScopeAccess,
} from '../../../src/policy/effective-access.js';

const t = (id: string, name: string, tags: string[] = []): AccessTarget => ({ id, name, tags });
const restrict = (targetIds: string[], groupIds: string[] = []): ScopeAccess => ({
  mode: 'restrict',
  targetIds,
  groupIds,
});
const ALL: ScopeAccess = { mode: 'all', targetIds: [], groupIds: [] };
const INHERIT: ScopeAccess = { mode: 'inherit', targetIds: [], groupIds: [] };

/** A deliberately naive glob matcher (recursive backtracking) to check the regex one against. */
function naiveGlob(glob: string, name: string): boolean {
  if (glob === '') return name === '';
  const [head, rest] = [glob[0], glob.slice(1)];
  if (head === '*') {
    for (let i = 0; i <= name.length; i++) if (naiveGlob(rest, name.slice(i))) return true;
    return false;
  }
  if (name === '') return false;
  if (head === '?' || head === name[0]) return naiveGlob(rest, name.slice(1));
  return false;
}

describe('glob matching', () => {
  it('matches `*` as any run (also empty) and `?` as exactly one character, anchored', () => {
    expect(globMatches('gpt-4o*', 'gpt-4o')).toBe(true);
    expect(globMatches('gpt-4o*', 'gpt-4o-mini')).toBe(true);
    expect(globMatches('gpt-4o*', 'my-gpt-4o')).toBe(false);
    expect(globMatches('*-mini', 'gpt-4o-mini')).toBe(true);
    expect(globMatches('claude-?', 'claude-3')).toBe(true);
    expect(globMatches('claude-?', 'claude-35')).toBe(false);
    expect(globMatches('*', '')).toBe(true);
  });

  it('treats every other character literally (a dot is not "any character", regex syntax is inert)', () => {
    expect(globMatches('gpt-4.1', 'gpt-4x1')).toBe(false);
    expect(globMatches('gpt-4.1', 'gpt-4.1')).toBe(true);
    expect(globMatches('a+b', 'aab')).toBe(false);
    expect(globMatches('(a|b)', 'a')).toBe(false);
    expect(globMatches('[ab]', 'a')).toBe(false);
    expect(globMatches('openai/gpt-*', 'openai/gpt-5')).toBe(true);
  });

  it('is case-sensitive', () => {
    expect(globMatches('GPT-*', 'gpt-4o')).toBe(false);
  });

  it('agrees with a naive backtracking matcher on random globs and names', () => {
    const alphabet = fc.constantFrom('a', 'b', '.', '-', '/', '+');
    const globChar = fc.oneof(alphabet, fc.constantFrom('*', '?'));
    fc.assert(
      fc.property(
        fc.array(globChar, { maxLength: 8 }).map((cs) => cs.join('')),
        fc.array(alphabet, { maxLength: 8 }).map((cs) => cs.join('')),
        (glob, name) => globMatches(glob, name) === naiveGlob(glob, name),
      ),
      { numRuns: 2000 },
    );
  });
});

describe('access group membership', () => {
  const targets = [
    t('1', 'gpt-4o', ['openai', 'prod']),
    t('2', 'gpt-4o-mini', ['openai']),
    t('3', 'claude-3', ['anthropic', 'prod']),
    t('4', 'llama-3', ['local']),
  ];

  it('is the explicit members plus every target the rule selects', () => {
    const group: AccessGroupDef = {
      id: 'g',
      explicitTargetIds: ['4'],
      match: { nameGlob: 'gpt-*', tags: [] },
    };
    expect(namesOf(groupMemberIds(group, targets), targets)).toEqual(['gpt-4o', 'gpt-4o-mini', 'llama-3']);
  });

  it('requires the glob AND every listed tag when both are set', () => {
    const rule = { nameGlob: '*', tags: ['openai', 'prod'] };
    expect(targets.filter((x) => ruleSelects(rule, x)).map((x) => x.name)).toEqual(['gpt-4o']);
    const tagsOnly = { nameGlob: null, tags: ['prod'] };
    expect(targets.filter((x) => ruleSelects(tagsOnly, x)).map((x) => x.name)).toEqual([
      'gpt-4o',
      'claude-3',
    ]);
  });

  it('selects nothing by rule when the rule has neither glob nor tags', () => {
    const group: AccessGroupDef = { id: 'g', explicitTargetIds: ['3'], match: { nameGlob: null, tags: [] } };
    expect(namesOf(groupMemberIds(group, targets), targets)).toEqual(['claude-3']);
  });

  it('lets a target created later join the group when it matches the rule', () => {
    const group: AccessGroupDef = { id: 'g', explicitTargetIds: [], match: { nameGlob: 'gpt-*', tags: [] } };
    const later = [...targets, t('5', 'gpt-5')];
    expect(groupMemberIds(group, later).has('5')).toBe(true);
  });

  it('ignores explicit members that no longer exist (a deleted target)', () => {
    const group: AccessGroupDef = { id: 'g', explicitTargetIds: ['gone', '1'], match: null };
    expect([...groupMemberIds(group, targets)]).toEqual(['1']);
  });
});

describe('scope chain org → team → key', () => {
  const targets = [t('a', 'a'), t('b', 'b'), t('c', 'c'), t('d', 'd', ['x'])];
  const groups = new Map<string, AccessGroupDef>([
    ['gx', { id: 'gx', explicitTargetIds: ['a'], match: { nameGlob: null, tags: ['x'] } }],
  ]);

  it('gives every target to an org in `all` mode and passes it down through `inherit`', () => {
    const chain = resolveChain(targets, groups, { org: ALL, team: INHERIT, key: INHERIT });
    expect([...chain.key].sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('intersects a team restriction with the org set (a team cannot widen)', () => {
    const chain = resolveChain(targets, groups, {
      org: restrict(['a', 'b']),
      team: restrict(['b', 'c']),
      key: INHERIT,
    });
    expect([...chain.team]).toEqual(['b']);
    expect([...chain.key]).toEqual(['b']);
  });

  it('expands group bindings to the group members at every level', () => {
    const chain = resolveChain(targets, groups, {
      org: restrict([], ['gx']),
      team: INHERIT,
      key: restrict(['d']),
    });
    expect([...chain.org].sort()).toEqual(['a', 'd']);
    expect([...chain.key]).toEqual(['d']);
  });

  it('takes targets from a key when the org later narrows, without touching the key bindings', () => {
    const key = restrict(['a', 'b']);
    const before = resolveChain(targets, groups, { org: ALL, team: INHERIT, key });
    const after = resolveChain(targets, groups, { org: restrict(['b']), team: INHERIT, key });
    expect([...before.key].sort()).toEqual(['a', 'b']);
    expect([...after.key]).toEqual(['b']);
  });

  it('allows nothing for a restrict scope with no bindings', () => {
    const chain = resolveChain(targets, groups, { org: ALL, team: restrict([]) });
    expect(chain.team.size).toBe(0);
  });
});

// ---- properties over random worlds ----

const TAGS = ['p', 'q', 'r'];
const NAMES = ['gpt-4o', 'gpt-4o-mini', 'gpt-5', 'claude-3', 'claude-4', 'llama', 'mistral-7b', 'o1'];

const world = fc
  .subarray(NAMES, { minLength: 0 })
  .chain((names) => {
    const targets = fc.tuple(
      ...names.map((name, i) => fc.subarray(TAGS).map((tags) => t(`t${i}`, name, tags))),
    );
    return fc.tuple(
      fc.constant(names.length),
      names.length === 0 ? fc.constant([] as AccessTarget[]) : targets,
    );
  })
  .chain(([count, targets]) => {
    const ids = Array.from({ length: count }, (_, i) => `t${i}`);
    const rule = fc.option(
      fc.record({
        nameGlob: fc.option(fc.constantFrom('gpt-*', 'claude-?', '*', '*-mini', 'o?', 'x*'), { nil: null }),
        tags: fc.subarray(TAGS, { maxLength: 2 }),
      }),
      { nil: null },
    );
    const group = (i: number) =>
      fc.record({ id: fc.constant(`g${i}`), explicitTargetIds: fc.subarray(ids), match: rule });
    const groupList = fc.tuple(group(0), group(1), group(2));
    const groupIds = ['g0', 'g1', 'g2', 'g-missing'];
    const scope = (open: 'all' | 'inherit') =>
      fc.oneof(
        fc.constant<ScopeAccess>({ mode: open, targetIds: [], groupIds: [] }),
        fc.record({
          mode: fc.constant<'restrict'>('restrict'),
          targetIds: fc.subarray([...ids, 'gone']),
          groupIds: fc.subarray(groupIds),
        }),
      );
    return fc.record({
      targets: fc.constant(targets as AccessTarget[]),
      groups: groupList.map((list) => new Map<string, AccessGroupDef>(list.map((g) => [g.id, g]))),
      org: scope('all'),
      team: scope('inherit'),
      key: scope('inherit'),
    });
  });

const subset = (a: Set<string>, b: Set<string>) => [...a].every((x) => b.has(x));

describe('resolution properties (random targets, tags, groups and bindings)', () => {
  it('effective ⊆ team ⊆ org ⊆ every target', () => {
    fc.assert(
      fc.property(world, (w) => {
        const chain = resolveChain(w.targets, w.groups, w);
        const all = new Set(w.targets.map((x) => x.id));
        return subset(chain.key, chain.team) && subset(chain.team, chain.org) && subset(chain.org, all);
      }),
      { numRuns: 1000 },
    );
  });

  it('inherit equals the parent set; restrict equals own selection ∩ parent set', () => {
    fc.assert(
      fc.property(world, (w) => {
        const chain = resolveChain(w.targets, w.groups, w);
        const expectLevel = (access: ScopeAccess, parent: Set<string>, got: Set<string>) => {
          const own = ownSelection(access, w.targets, w.groups);
          const want = own === null ? parent : new Set([...own].filter((x) => parent.has(x)));
          expect([...got].sort()).toEqual([...want].sort());
        };
        expectLevel(w.team, chain.org, chain.team);
        expectLevel(w.key, chain.team, chain.key);
      }),
      { numRuns: 500 },
    );
  });

  it('narrowing a parent (dropping one of its bindings) never gives a child a new target', () => {
    fc.assert(
      fc.property(world, fc.nat(), fc.constantFrom<'org' | 'team'>('org', 'team'), (w, pick, level) => {
        const parent: ScopeAccess = w[level];
        if (parent.mode !== 'restrict') return true;
        const bindings = [
          ...parent.targetIds.map((id) => ['t', id]),
          ...parent.groupIds.map((id) => ['g', id]),
        ];
        if (bindings.length === 0) return true;
        const drop = bindings[pick % bindings.length]!;
        const narrowed: ScopeAccess = {
          mode: 'restrict',
          targetIds: parent.targetIds.filter((id) => !(drop[0] === 't' && drop[1] === id)),
          groupIds: parent.groupIds.filter((id) => !(drop[0] === 'g' && drop[1] === id)),
        };
        const before = resolveChain(w.targets, w.groups, w);
        const after = resolveChain(w.targets, w.groups, { ...w, [level]: narrowed });
        return subset(after.key, before.key) && subset(after.team, before.team);
      }),
      { numRuns: 500 },
    );
  });

  it('a new target matching a bound group rule reaches the key exactly when every level allows it', () => {
    fc.assert(
      fc.property(
        world,
        fc.constantFrom(...NAMES.map((n) => `${n}-new`)),
        fc.subarray(TAGS),
        (w, name, tags) => {
          const added = [...w.targets, t('new', name, tags)];
          const chain = resolveChain(added, w.groups, w);
          const allows = (access: ScopeAccess) => {
            const own = ownSelection(access, added, w.groups);
            return own === null || own.has('new');
          };
          return chain.key.has('new') === (allows(w.org) && allows(w.team) && allows(w.key));
        },
      ),
      { numRuns: 500 },
    );
  });
});
