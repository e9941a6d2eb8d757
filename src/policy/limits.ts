import type { BudgetPeriod } from '../budget/period.js';

/** The optional limits every scope (org, team, key) may carry (DESIGN.md "Limits"). */
export interface Limits {
  maxBudgetMicros: number | null;
  rpm: number | null;
  tpm: number | null;
  rph: number | null;
  rpd: number | null;
  tpd: number | null;
  /** In-flight requests allowed at once (issue 14 item 3); absent/null = no cap. */
  maxParallel?: number | null;
  /** The budget limits spend of the current calendar period (UTC) instead of lifetime spend. */
  budgetPeriod?: BudgetPeriod | null;
  /** Limits in shadow mode (bits of SHADOW_BITS): counted and reported, never refusing. */
  shadow?: number;
}

/** Bit of each limit in `Limits.shadow`. */
export const SHADOW_BITS = {
  budget: 1,
  rpm: 2,
  tpm: 4,
  rph: 8,
  rpd: 16,
  tpd: 32,
  parallel: 64,
} as const;
export type ShadowLimit = keyof typeof SHADOW_BITS;

/** `limit_modes` field name → its shadow bit. */
export const SHADOW_BIT_OF_FIELD: Readonly<Record<string, number>> = {
  max_budget: SHADOW_BITS.budget,
  rpm_limit: SHADOW_BITS.rpm,
  tpm_limit: SHADOW_BITS.tpm,
  rph_limit: SHADOW_BITS.rph,
  rpd_limit: SHADOW_BITS.rpd,
  tpd_limit: SHADOW_BITS.tpd,
  max_parallel_requests: SHADOW_BITS.parallel,
};

/** The five windows, by the name of their `Limits` field (src/ratelimit/windows.ts gives their lengths). */
export const WINDOW_NAMES = ['rpm', 'tpm', 'rph', 'rpd', 'tpd'] as const;
export type WindowName = (typeof WINDOW_NAMES)[number];

/** `limits[name]` as named loads (a load keyed by five names is megamorphic on the hot path). */
export function windowLimit(limits: Limits, name: WindowName): number | null {
  switch (name) {
    case 'rpm':
      return limits.rpm;
    case 'tpm':
      return limits.tpm;
    case 'rph':
      return limits.rph;
    case 'rpd':
      return limits.rpd;
    case 'tpd':
      return limits.tpd;
  }
}

/** The same windows as the API names their limits (`rpm_limit`, ...). */
export type WindowField = `${WindowName}_limit`;
export const WINDOW_FIELDS: readonly WindowField[] = WINDOW_NAMES.map((name): WindowField => `${name}_limit`);

export type Scope = 'key' | 'team' | 'org';
export const SCOPES: readonly Scope[] = ['key', 'team', 'org'];

/** Position in SCOPES, without a keyed load (megamorphic on the hot path, see `scopeState`). */
export function scopeIndex(scope: Scope): number {
  return scope === 'key' ? 0 : scope === 'team' ? 1 : 2;
}

export const NO_LIMITS: Readonly<Limits> = Object.freeze({
  maxBudgetMicros: null,
  rpm: null,
  tpm: null,
  rph: null,
  rpd: null,
  tpd: null,
});
