/**
 * The Create Key dialog. Admin callers (key.create on the team) choose the owner (You, or a
 * service account of the team: picked, or created in place), limits, asset access and expiry.
 * Self-service callers (only key.create_self) get the simplified form: the team's policy
 * constraints are shown, there is no owner or access choice (the API forces both). The browser
 * posts to `POST /v1/keys`; a 400/403 is shown at the field its `param` names.
 */
import type { Me } from './console-context.js';
import { canOnTeam } from './console-context.js';
import { WINDOW_LIMITS, type AccessGroupView, type TargetView, type TeamView } from './key-types.js';

export interface CreateKeyOptions {
  me: Me;
  teams: TeamView[];
  targets: TargetView[];
  groups: AccessGroupView[];
}

export function FieldError(props: { name: string }) {
  return <p class="field-error" id={`err-${props.name}`} data-error-for={props.name} aria-live="polite"></p>;
}

function PolicyCard(props: { team: TeamView }) {
  const t = props.team;
  const p = t.self_service;
  const items: string[] = [];
  if (!p.enabled) items.push('Self-service key creation is disabled for this team.');
  if (p.max_keys_per_user !== null) items.push(`At most ${p.max_keys_per_user} active keys per developer.`);
  if (p.budget_ceiling !== null) {
    items.push(`A lifetime budget is required, at most $${p.budget_ceiling} (no budget period).`);
  }
  if (p.require_expiry) items.push('An expiry is required.');
  if (p.max_expiry_days !== null) items.push(`Keys must expire within ${p.max_expiry_days} days.`);
  for (const [field, label] of WINDOW_LIMITS) {
    if (t[field] !== null) items.push(`${label} at most ${t[field]}.`);
  }
  if (items.length === 0) items.push('No constraints beyond the team’s own.');
  return (
    <div class="policy" data-policy-for={t.id} hidden>
      <p>
        <strong>Team policy ({t.name})</strong>
      </p>
      <ul>
        {items.map((item) => (
          <li>{item}</li>
        ))}
      </ul>
    </div>
  );
}

function NumberField(props: { id: string; name: string; label: string; step?: string }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        name={props.name}
        type="number"
        min="0"
        step={props.step ?? '1'}
        inputmode="decimal"
        aria-describedby={`err-${props.name}`}
      />
      <FieldError name={props.name} />
    </div>
  );
}

export function CreateKeyDialog(props: { options: CreateKeyOptions }) {
  const { me, teams, targets, groups } = props.options;
  const modeOf = (t: TeamView) => (canOnTeam(me, 'key.create', t.id) ? 'admin' : 'self');
  // Self-service under a budget ceiling: the API refuses budget_period (budget_period_not_allowed),
  // so the page hides the Budget period control for such a team (console.js `sync`).
  const periodAllowed = (t: TeamView) => modeOf(t) === 'admin' || t.self_service.budget_ceiling === null;
  return (
    <dialog id="create-key-dialog" aria-labelledby="create-key-title" class="wide">
      <form id="create-key-form" novalidate>
        <h2 id="create-key-title">Create Key</h2>
        <p class="error" id="err-form" role="alert" hidden></p>
        <div class="field">
          <label for="ck-name">Key name</label>
          <input id="ck-name" name="name" required maxlength={200} aria-describedby="err-name" />
          <FieldError name="name" />
        </div>
        <div class="field">
          <label for="ck-team">Team</label>
          <select id="ck-team" name="team_id" aria-describedby="err-team_id">
            {teams.map((t) => (
              <option
                value={t.id}
                data-mode={modeOf(t)}
                data-budget-period={periodAllowed(t) ? 'allowed' : 'lifetime-only'}
                data-allowed-targets={
                  t.access.mode === 'restrict' ? JSON.stringify(t.access.targets) : undefined
                }
                data-allowed-groups={
                  t.access.mode === 'restrict' ? JSON.stringify(t.access.access_groups) : undefined
                }
              >
                {t.name}
              </option>
            ))}
          </select>
          <FieldError name="team_id" />
        </div>
        {teams
          .filter((t) => modeOf(t) === 'self')
          .map((t) => (
            <PolicyCard team={t} />
          ))}
        <fieldset data-admin-only>
          <legend>Owned by</legend>
          <label class="inline">
            <input
              type="radio"
              name="owner"
              value="user"
              checked={me.user !== null}
              disabled={me.user === null}
            />{' '}
            You
          </label>
          <label class="inline">
            <input type="radio" name="owner" value="service_account" checked={me.user === null} /> Service
            account
          </label>
          <div id="ck-sa-box">
            <label for="ck-sa">Service account of the team</label>
            <select id="ck-sa" name="service_account" aria-describedby="err-owner">
              <option value="">Choose a service account…</option>
              <option value="__new">+ Create a new service account</option>
            </select>
            <div id="ck-sa-new" hidden>
              <label for="ck-sa-name">New service account name</label>
              <input
                id="ck-sa-name"
                name="service_account_name"
                maxlength={200}
                aria-describedby="err-owner"
              />
            </div>
          </div>
          <FieldError name="owner" />
        </fieldset>
        <fieldset>
          <legend>Limits (empty = no limit)</legend>
          <p class="hint" data-budget-period-control>
            Budget periods follow the UTC calendar: days, weeks from Monday, months from the 1st.
          </p>
          <div class="grid">
            <NumberField id="ck-budget" name="max_budget" label="Max budget (USD)" step="0.01" />
            <div class="field" data-budget-period-control>
              <label for="ck-budget-period">Budget period</label>
              <select id="ck-budget-period" name="budget_period" aria-describedby="err-budget_period">
                <option value="">Lifetime</option>
                <option value="day">Per day</option>
                <option value="week">Per week</option>
                <option value="month">Per month</option>
              </select>
              <FieldError name="budget_period" />
            </div>
            {WINDOW_LIMITS.map(([field, label]) => (
              <NumberField id={`ck-${field}`} name={field} label={label} />
            ))}
            <NumberField id="ck-parallel" name="max_parallel_requests" label="Max parallel requests" />
          </div>
        </fieldset>
        <fieldset data-admin-only>
          <legend>Asset access</legend>
          <label class="inline">
            <input type="radio" name="access_mode" value="inherit" checked /> Inherit team set
          </label>
          <label class="inline">
            <input type="radio" name="access_mode" value="restrict" /> Restrict
          </label>
          <div id="ck-restrict" hidden>
            <p class="hint">
              Choose among the targets and access groups the team allows (a team that inherits its
              organization's set shows everything you can see; the API checks the organization).
            </p>
            <fieldset>
              <legend>Targets</legend>
              {targets.map((t) => (
                <label class="inline">
                  <input type="checkbox" name="targets" value={t.name} /> {t.name}
                </label>
              ))}
            </fieldset>
            <fieldset>
              <legend>Access groups</legend>
              {groups.map((g) => (
                <label class="inline">
                  <input type="checkbox" name="access_groups" value={g.id} /> {g.name}
                </label>
              ))}
            </fieldset>
          </div>
          <FieldError name="access" />
        </fieldset>
        <div class="field">
          <label for="ck-expiry">Expires in (days)</label>
          <input
            id="ck-expiry"
            name="expires_in_days"
            type="number"
            min="1"
            aria-describedby="ck-expiry-hint err-expiry"
          />
          <p class="hint" id="ck-expiry-hint">
            Empty = never expires.
          </p>
          <FieldError name="expiry" />
        </div>
        <div class="buttons">
          <button type="button" data-close-dialog>
            Cancel
          </button>
          <button type="submit" class="primary">
            Create key
          </button>
        </div>
      </form>
    </dialog>
  );
}
