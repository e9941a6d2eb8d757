/** Every scenario, in run order (baselines first; revocation last: it restarts the admin plane). */
import { bareProxyScenario, directScenario, helloScenario, nginxScenario } from './baselines.js';
import { decisionScenario } from './decision.js';
import {
  hotKeyScenario,
  invalidKeysScenario,
  limitsOnScenario,
  rateLimitedScenario,
} from './gateway-load.js';
import { latencyScenario } from './latency.js';
import { preloadScenario } from './preload.js';
import { coldMissesScenario, manyKeysScenario, memoryScenario } from './many-keys.js';
import { revocationScenario } from './revocation.js';
import type { Scenario } from './scenario.js';
import { streamingScenario } from './streaming.js';

export const SCENARIOS: readonly Scenario[] = [
  helloScenario,
  directScenario,
  bareProxyScenario,
  nginxScenario,
  hotKeyScenario,
  latencyScenario,
  invalidKeysScenario,
  rateLimitedScenario,
  limitsOnScenario,
  streamingScenario,
  manyKeysScenario,
  memoryScenario,
  coldMissesScenario,
  preloadScenario,
  revocationScenario,
  decisionScenario,
];

/**
 * The scenarios to run for the names asked (all when none), plus the ones their ratios refer to,
 * in run order. Unknown names throw with the list of valid ones.
 */
export function selectScenarios(names: readonly string[], all: readonly Scenario[] = SCENARIOS): Scenario[] {
  if (names.length === 0) return [...all];
  const byName = new Map(all.map((scenario) => [scenario.name, scenario]));
  const unknown = names.filter((name) => !byName.has(name));
  if (unknown.length > 0) {
    throw new Error(
      `unknown scenario ${unknown.join(', ')}; known: ${all.map((scenario) => scenario.name).join(', ')}`,
    );
  }
  const wanted = new Set<string>();
  const add = (name: string): void => {
    if (wanted.has(name)) return;
    wanted.add(name);
    for (const reference of byName.get(name)!.references) add(reference);
  };
  names.forEach(add);
  return all.filter((scenario) => wanted.has(scenario.name));
}
