/** The JSON shapes of the admin API the console renders (docs/api.md). */
export interface KeyView {
  id: string;
  name: string;
  display: string;
  team: { id: string; name: string };
  org_id: string;
  owner: { type: 'user' | 'service_account'; id: string | null; name: string | null };
  status: string;
  self_service: boolean;
  max_budget: number | null;
  spend: number;
  budget_progress: number | null;
  rpm_limit: number | null;
  tpm_limit: number | null;
  rph_limit: number | null;
  rpd_limit: number | null;
  tpd_limit: number | null;
  expires_at: string | null;
  access: { mode: string; targets: string[]; access_groups: string[] };
  effective_targets: string[];
  created_at: string | null;
  last_used_at: string | null;
  /** `key`: the key itself is blocked; `owner`: its owning user is (unblock the user). */
  blocked_by?: 'key' | 'owner' | null;
  budget_period: 'day' | 'week' | 'month' | null;
  /** Spend of the current period (null without a period); `budget_progress` is against it then. */
  period_spend: number | null;
  period_resets_at: string | null;
  max_parallel_requests: number | null;
}

export interface TeamView {
  id: string;
  org_id: string;
  name: string;
  max_budget: number | null;
  rpm_limit: number | null;
  tpm_limit: number | null;
  rph_limit: number | null;
  rpd_limit: number | null;
  tpd_limit: number | null;
  self_service: {
    enabled: boolean;
    max_keys_per_user: number | null;
    budget_ceiling: number | null;
    require_expiry: boolean;
    max_expiry_days: number | null;
  };
  access: { mode: string; targets: string[]; access_groups: string[] };
}

export interface TargetView {
  id: string;
  name: string;
  tags?: string[];
}

export interface AccessGroupView {
  id: string;
  name: string;
  org_id: string | null;
}

export const WINDOW_LIMITS = [
  ['rpm_limit', 'RPM'],
  ['tpm_limit', 'TPM'],
  ['rph_limit', 'RPH'],
  ['rpd_limit', 'RPD'],
  ['tpd_limit', 'TPD'],
] as const;
