/** The optional limits every scope (org, team, key) may carry (DESIGN.md "Limits"). */
export interface Limits {
  maxBudgetMicros: number | null;
  rpm: number | null;
  tpm: number | null;
  rph: number | null;
  rpd: number | null;
  tpd: number | null;
}

export const WINDOW_FIELDS = ['rpm_limit', 'tpm_limit', 'rph_limit', 'rpd_limit', 'tpd_limit'] as const;
export type WindowField = (typeof WINDOW_FIELDS)[number];

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
