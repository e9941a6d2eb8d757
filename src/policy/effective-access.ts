/**
 * Asset access resolution (DESIGN.md "Asset access"), pure: no I/O, no clock.
 *
 * - A group's members = its explicit targets ∪ every target its match rule selects. Membership by
 *   rule is computed, never stored, so a target created or re-tagged later joins at once.
 * - A match rule selects a target when the name matches `nameGlob` (if set) AND the target carries
 *   every tag in `tags` (if non-empty). A rule with neither selects nothing.
 * - Globs: `*` = any run of characters (also none), `?` = exactly one character, everything else
 *   literal; case-sensitive, anchored at both ends.
 * - Effective set: org (`all` = every target, or its bindings) ∩ team (`inherit` = the org set, or
 *   its bindings) ∩ key (`inherit` = the team set, or its bindings). A parent that narrows later
 *   removes targets from its children by the intersection alone.
 */

export interface AccessTarget {
  id: string;
  name: string;
  tags: readonly string[];
}

export interface MatchRule {
  nameGlob: string | null;
  tags: readonly string[];
}

export interface AccessGroupDef {
  id: string;
  explicitTargetIds: readonly string[];
  match: MatchRule | null;
}

export type AccessMode = 'all' | 'inherit' | 'restrict';

export interface ScopeAccess {
  mode: AccessMode;
  targetIds: readonly string[];
  groupIds: readonly string[];
}

const globCache = new Map<string, RegExp>();

/** The anchored regular expression of a glob (`*`, `?`; everything else literal). */
export function globToRegExp(glob: string): RegExp {
  let cached = globCache.get(glob);
  if (cached !== undefined) return cached;
  let source = '';
  for (const char of glob) {
    if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else source += char.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
  }
  cached = new RegExp(`^${source}$`, 's');
  if (globCache.size > 1000) globCache.clear();
  globCache.set(glob, cached);
  return cached;
}

export function globMatches(glob: string, name: string): boolean {
  return globToRegExp(glob).test(name);
}

/** True when the rule has something to match on (a glob or at least one tag). */
export function isActiveRule(rule: MatchRule | null): rule is MatchRule {
  return rule !== null && (rule.nameGlob !== null || rule.tags.length > 0);
}

export function ruleSelects(rule: MatchRule | null, target: AccessTarget): boolean {
  if (!isActiveRule(rule)) return false;
  if (rule.nameGlob !== null && !globMatches(rule.nameGlob, target.name)) return false;
  for (const tag of rule.tags) if (!target.tags.includes(tag)) return false;
  return true;
}

/** Ids of the group's current members among `targets` (explicit ∪ matching). */
export function groupMemberIds(
  group: AccessGroupDef,
  targets: readonly AccessTarget[],
  known: ReadonlySet<string> = new Set(targets.map((t) => t.id)),
): Set<string> {
  const members = new Set<string>();
  for (const id of group.explicitTargetIds) if (known.has(id)) members.add(id);
  if (isActiveRule(group.match)) {
    for (const target of targets) if (ruleSelects(group.match, target)) members.add(target.id);
  }
  return members;
}

/** Per-resolution memo: the id set of `targets` and each group's members, computed once. */
interface Memo {
  known: Set<string>;
  members: Map<string, Set<string>>;
}

function memoFor(targets: readonly AccessTarget[]): Memo {
  return { known: new Set(targets.map((t) => t.id)), members: new Map() };
}

/**
 * The set a single scope selects on its own (before intersecting with its parent): `null`
 * means "no restriction of its own" (`all` / `inherit`).
 */
export function ownSelection(
  access: ScopeAccess,
  targets: readonly AccessTarget[],
  groups: ReadonlyMap<string, AccessGroupDef>,
  memo: Memo = memoFor(targets),
): Set<string> | null {
  if (access.mode !== 'restrict') return null;
  const selected = new Set<string>();
  for (const id of access.targetIds) if (memo.known.has(id)) selected.add(id);
  for (const groupId of access.groupIds) {
    const group = groups.get(groupId);
    if (group === undefined) continue;
    let members = memo.members.get(groupId);
    if (members === undefined) {
      members = groupMemberIds(group, targets, memo.known);
      memo.members.set(groupId, members);
    }
    for (const id of members) selected.add(id);
  }
  return selected;
}

export interface ResolvedChain {
  org: Set<string>;
  team: Set<string>;
  key: Set<string>;
}

/**
 * Allowed target ids at each level of org → team → key. A missing team/key scope is `inherit`
 * (so `team` equals `org` when only the org is given).
 */
export function resolveChain(
  targets: readonly AccessTarget[],
  groups: ReadonlyMap<string, AccessGroupDef>,
  scopes: { org: ScopeAccess; team?: ScopeAccess; key?: ScopeAccess },
): ResolvedChain {
  const memo = memoFor(targets);
  const narrow = (parent: Set<string>, access: ScopeAccess | undefined): Set<string> => {
    const own = access === undefined ? null : ownSelection(access, targets, groups, memo);
    if (own === null) return new Set(parent);
    return new Set([...own].filter((id) => parent.has(id)));
  };
  const org = narrow(memo.known, scopes.org);
  const team = narrow(org, scopes.team);
  const key = narrow(team, scopes.key);
  return { org, team, key };
}

/** Sorted target names of a set of ids. */
export function namesOf(ids: ReadonlySet<string>, targets: readonly AccessTarget[]): string[] {
  return targets
    .filter((t) => ids.has(t.id))
    .map((t) => t.name)
    .sort();
}
