/**
 * Where a plane's CPU went: a summary of a V8 `.cpuprofile` (from `node --cpu-prof`) by
 * self time, per function and per package (node internals, each node_modules package, keygate's
 * own folders), so a missed target comes with a reason rather than a guess.
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export interface CpuProfile {
  nodes: ProfileNode[];
}

export interface SelfTime {
  name: string;
  percent: number;
}

const IDLE = new Set(['(idle)', '(program)']);

/** `node:internal/...`, a node_modules package name, or keygate's top folder (src/cache, gateway, ...). */
export function packageOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules !== null) return modules[1]!;
  const own = /\/dist\/(src\/[^/]+|[^/]+)\//.exec(url) ?? /\/(src\/[^/]+|gateway|admin|bench)\//.exec(url);
  return own !== null ? `keygate ${own[1]}` : url;
}

export function summarizeProfile(
  profile: CpuProfile,
  top = 12,
): { functions: SelfTime[]; packages: SelfTime[] } {
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    if (hits === 0 || IDLE.has(functionName)) continue;
    total += hits;
    const file = url.replace(/^.*\/(node_modules\/|dist\/)/, '$1');
    const name = `${functionName || '(anonymous)'} ${file === '' ? '' : `${file}:${lineNumber + 1}`}`.trim();
    byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
    const pkg = packageOf(url, functionName);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + hits);
  }
  const rank = (map: Map<string, number>): SelfTime[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, hits]) => ({ name, percent: total > 0 ? (100 * hits) / total : 0 }));
  return { functions: rank(byFunction), packages: rank(byPackage) };
}

/** Summary lines for one process's profiles (a restarted admin plane leaves one file per run). */
export function profileNotes(label: string, paths: readonly string[]): string[] {
  const nodes = paths.flatMap((path) => (JSON.parse(readFileSync(path, 'utf8')) as CpuProfile).nodes);
  const { functions, packages } = summarizeProfile({ nodes });
  const pct = (entry: SelfTime): string => `${entry.name} ${entry.percent.toFixed(1)} %`;
  const where = paths.length === 1 ? paths[0]! : `${paths.length} files in ${dirname(paths[0]!)}`;
  return [
    `${label} CPU profile (${where}), self time of non-idle samples by package: ${packages.map(pct).join(', ')}`,
    `${label} top functions: ${functions.slice(0, 8).map(pct).join('; ')}`,
  ];
}
