/** The optional limits every scope (org, team, key) may carry (DESIGN.md "Limits"). */
export interface Limits {
  maxBudgetMicros: number | null;
  rpm: number | null;
  tpm: number | null;
  rph: number | null;
  rpd: number | null;
  tpd: number | null;
}

/** The five windows, by the name of their `Limits` field (src/ratelimit/windows.ts gives their lengths). */
export const WINDOW_NAMES = ['rpm', 'tpm', 'rph', 'rpd', 'tpd'] as const;
export type WindowName = (typeof WINDOW_NAMES)[number];

/** The same windows as the API names their limits (`rpm_limit`, ...). */
export type WindowField = `${WindowName}_limit`;
export const WINDOW_FIELDS: readonly WindowField[] = WINDOW_NAMES.map((name): WindowField => `${name}_limit`);

export type Scope = 'key' | 'team' | 'org';
export const SCOPES: readonly Scope[] = ['key', 'team', 'org'];

export const NO_LIMITS: Readonly<Limits> = Object.freeze({
  maxBudgetMicros: null,
  rpm: null,
  tpm: null,
  rph: null,
  rpd: null,
  tpd: null,
});
