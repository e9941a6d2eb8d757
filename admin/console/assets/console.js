// keygate console: the only script of the pages (served from the package; no inline code, strict CSP).
// Writes go to the same JSON admin API as curl, signed in by the session cookie plus the CSRF header.
// A new key's secret lives only in the secret panel's text and one local variable, both cleared
// when the panel closes; it is never put in a URL, a cookie, storage or a log.
'use strict';

const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';

async function api(method, path, body) {
  const headers = { 'x-csrf-token': csrf };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : JSON.parse(text) };
}

// ---- dialogs: focus moves in on open and back to the opener on close -------------------------
const openers = new WeakMap();
function openDialog(dialog, from) {
  openers.set(dialog, from ?? document.activeElement);
  dialog.showModal();
  const first = dialog.querySelector('input:not([type=hidden]):not([disabled]), select, button');
  first?.focus();
}
document.addEventListener(
  'close',
  (event) => {
    if (!(event.target instanceof HTMLDialogElement)) return;
    const back = openers.get(event.target);
    openers.delete(event.target);
    if (back instanceof HTMLElement && back.isConnected) back.focus();
  },
  true,
);
document.addEventListener('click', (event) => {
  const target = event.target instanceof Element ? event.target : null;
  const open = target?.closest('[data-open-dialog]');
  if (open) openDialog(document.getElementById(open.getAttribute('data-open-dialog')), open);
  if (target?.closest('[data-close-dialog]')) target.closest('dialog')?.close();
});

// ---- field errors: a 400/403 answer is shown at the field its `param` names ---------------------
const FIELD_OF = {
  expires_at: 'expiry',
  expires_in_days: 'expiry',
  owner: 'owner',
  'owner.id': 'owner',
  'owner.create.name': 'owner',
  'owner.create': 'owner',
};
function fieldOf(param, form) {
  if (param === null || param === undefined)
    return form.querySelector('[data-error-for="team_id"]') ? 'team_id' : null;
  if (FIELD_OF[param]) return FIELD_OF[param];
  if (param.startsWith('access')) return 'access';
  if (param.startsWith('owner')) return 'owner';
  return param;
}
function clearErrors(form) {
  for (const slot of form.querySelectorAll('[data-error-for]')) slot.textContent = '';
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
  const general = form.querySelector('#err-form');
  if (general) general.hidden = true;
}
function showError(form, answer) {
  const error = answer.body?.error ?? { message: `Request failed (${answer.status}).`, param: null };
  const field = fieldOf(error.param, form);
  const slot = field === null ? null : form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
  if (slot) {
    slot.textContent = error.message;
    const input = form.querySelector(`[aria-describedby~="${slot.id}"]`);
    input?.setAttribute('aria-invalid', 'true');
    input?.focus();
  } else {
    const general = form.querySelector('#err-form');
    general.textContent = error.message;
    general.hidden = false;
  }
}

// ---- the secret, shown once ---------------------------------------------------------------------
let secret = null;
function showSecret(value, from) {
  secret = value;
  const dialog = document.getElementById('secret-dialog');
  document.getElementById('secret-value').textContent = value;
  document.getElementById('secret-copied').textContent = '';
  openDialog(dialog, from);
}
document.getElementById('secret-copy')?.addEventListener('click', async () => {
  if (secret === null) return;
  await navigator.clipboard.writeText(secret);
  document.getElementById('secret-copied').textContent = 'Copied to the clipboard.';
});
document.getElementById('secret-done')?.addEventListener('click', () => {
  document.getElementById('secret-dialog').close();
});
document.getElementById('secret-dialog')?.addEventListener('close', () => {
  secret = null;
  document.getElementById('secret-value').textContent = '';
  location.reload();
});

// ---- Create Key dialog --------------------------------------------------------------------------
const createForm = document.getElementById('create-key-form');
if (createForm) {
  const team = createForm.querySelector('#ck-team');
  const saSelect = createForm.querySelector('#ck-sa');
  const saNew = createForm.querySelector('#ck-sa-new');
  const saBox = createForm.querySelector('#ck-sa-box');
  const mode = () => team.selectedOptions[0]?.dataset.mode ?? 'self';
  const ownerValue = () => createForm.querySelector('input[name=owner]:checked')?.value;

  async function loadServiceAccounts() {
    for (const option of [...saSelect.options])
      if (option.value !== '' && option.value !== '__new') option.remove();
    if (mode() !== 'admin') return;
    const answer = await api('GET', `/v1/teams/${encodeURIComponent(team.value)}/service-accounts`);
    if (answer.status !== 200) return;
    const createOption = saSelect.querySelector('option[value="__new"]');
    for (const account of answer.body.data)
      saSelect.insertBefore(new Option(account.name, account.id), createOption);
  }
  function sync() {
    const admin = mode() === 'admin';
    for (const section of createForm.querySelectorAll('[data-admin-only]')) section.hidden = !admin;
    for (const card of document.querySelectorAll('[data-policy-for]'))
      card.hidden = admin || card.dataset.policyFor !== team.value;
    // A self-service team with a budget ceiling takes lifetime budgets only (no budget_period).
    const periodAllowed = team.selectedOptions[0]?.dataset.budgetPeriod !== 'lifetime-only';
    for (const control of createForm.querySelectorAll('[data-budget-period-control]'))
      control.hidden = !periodAllowed;
    if (!periodAllowed) createForm.elements.namedItem('budget_period').value = '';
    saBox.hidden = ownerValue() !== 'service_account';
    saNew.hidden = saSelect.value !== '__new';
    const option = team.selectedOptions[0];
    const allowed = (name) => (option?.dataset[name] ? JSON.parse(option.dataset[name]) : null);
    const groups = allowed('allowedGroups');
    // Targets reached through an allowed group count too, so targets are narrowed only without groups.
    const targets = groups !== null && groups.length > 0 ? null : allowed('allowedTargets');
    for (const box of createForm.querySelectorAll('input[name=targets], input[name=access_groups]')) {
      const list = box.name === 'targets' ? targets : groups;
      const hide = list !== null && !list.includes(box.value);
      box.closest('label').hidden = hide;
      if (hide) box.checked = false;
    }
    createForm.querySelector('#ck-restrict').hidden =
      createForm.querySelector('input[name=access_mode]:checked')?.value !== 'restrict';
  }
  team.addEventListener('change', () => {
    sync();
    void loadServiceAccounts();
  });
  createForm.addEventListener('change', sync);
  sync();
  void loadServiceAccounts();

  const number = (name) => {
    const value = createForm.elements.namedItem(name).value.trim();
    return value === '' ? undefined : Number(value);
  };
  createForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(createForm);
    const body = { name: createForm.elements.namedItem('name').value, team_id: team.value };
    for (const field of [
      'max_budget',
      'rpm_limit',
      'tpm_limit',
      'rph_limit',
      'rpd_limit',
      'tpd_limit',
      'max_parallel_requests',
      'expires_in_days',
    ]) {
      const value = number(field);
      if (value !== undefined) body[field] = value;
    }
    const period = createForm.elements.namedItem('budget_period').value;
    if (period !== '') body.budget_period = period;
    if (mode() === 'admin') {
      if (ownerValue() === 'user') body.owner = { type: 'user' };
      else if (saSelect.value === '__new')
        body.owner = {
          type: 'service_account',
          create: { name: createForm.elements.namedItem('service_account_name').value },
        };
      else body.owner = { type: 'service_account', id: saSelect.value };
      if (createForm.querySelector('input[name=access_mode]:checked')?.value === 'restrict') {
        const checked = (name) =>
          [...createForm.querySelectorAll(`input[name=${name}]:checked`)].map((box) => box.value);
        body.access = {
          mode: 'restrict',
          targets: checked('targets'),
          access_groups: checked('access_groups'),
        };
      }
    }
    const answer = await api('POST', '/v1/keys', body);
    if (answer.status !== 201) return showError(createForm, answer);
    const dialog = document.getElementById('create-key-dialog');
    const from = openers.get(dialog);
    openers.delete(dialog);
    dialog.close();
    createForm.reset();
    showSecret(answer.body.secret, from);
  });
}

// ---- row actions: regenerate (grace period), revoke, delete — each confirmed -------------------
const confirmForm = document.getElementById('confirm-form');
let pending = null;
const ACTIONS = {
  regenerate: { title: 'Regenerate key', text: (name) => `Issue a new secret for “${name}”?`, grace: true },
  revoke: {
    title: 'Revoke key',
    text: (name) => `Revoke “${name}”? Requests with it are refused from now on.`,
  },
  delete: { title: 'Delete key', text: (name) => `Delete “${name}” for good? Its record is removed.` },
  block: {
    title: 'Block key',
    text: (name) => `Block “${name}”? Requests are refused until it is unblocked.`,
  },
  unblock: { title: 'Unblock key', text: (name) => `Unblock “${name}”?` },
  'user-block': {
    title: 'Block user',
    text: (name) => `Block ${name}? Every key they own is refused until they are unblocked.`,
  },
  'user-unblock': { title: 'Unblock user', text: (name) => `Unblock ${name} and the keys they own?` },
};
document.addEventListener('click', (event) => {
  const button =
    event.target instanceof Element
      ? event.target.closest('button[data-action][data-key-id], button[data-action][data-user-id]')
      : null;
  const action = ACTIONS[button?.dataset.action];
  if (!button || !confirmForm || action === undefined) return;
  pending = {
    action: button.dataset.action,
    id: button.dataset.keyId ?? button.dataset.userId,
    detail: button.dataset.after === 'detail',
  };
  document.getElementById('confirm-title').textContent = action.title;
  document.getElementById('confirm-text').textContent = action.text(
    button.dataset.keyName ?? button.dataset.userEmail,
  );
  document.getElementById('confirm-grace').hidden = !action.grace;
  document.getElementById('confirm-ok').textContent = action.title.split(' ')[0];
  document.getElementById('confirm-error').hidden = true;
  openDialog(document.getElementById('confirm-dialog'), button);
});
confirmForm?.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (pending === null) return;
  const { action, id, detail } = pending;
  const path = `/v1/keys/${encodeURIComponent(id)}`;
  let answer;
  if (action.startsWith('user-'))
    answer = await api('POST', `/v1/users/${encodeURIComponent(id)}/${action.slice('user-'.length)}`);
  else if (action === 'regenerate') {
    const minutes = Number(confirmForm.elements.namedItem('grace_minutes').value || '0');
    answer = await api('POST', `${path}/regenerate`, { grace_period_seconds: Math.round(minutes * 60) });
  } else if (action === 'delete') answer = await api('DELETE', path);
  else answer = await api('POST', `${path}/${action}`);
  if (answer.status >= 300) {
    const error = document.getElementById('confirm-error');
    error.textContent = answer.body?.error?.message ?? `Failed (${answer.status}).`;
    error.hidden = false;
    return;
  }
  const dialog = document.getElementById('confirm-dialog');
  const from = openers.get(dialog);
  openers.delete(dialog);
  pending = null;
  dialog.close();
  if (action === 'regenerate') showSecret(answer.body.secret, from);
  else if (action === 'delete' && detail) location.assign('/keys');
  else location.reload();
});

// ---- users: invite (create user + set-password link) and new links ------------------------------
async function showLink(userId, email) {
  const answer = await api('POST', `/v1/users/${encodeURIComponent(userId)}/password-link`);
  if (answer.status !== 201) return answer;
  document.getElementById('link-email').textContent = email;
  document.getElementById('link-expiry').textContent = answer.body.expires_at;
  document.getElementById('link-url').textContent = answer.body.url;
  document.getElementById('link-panel').hidden = false;
  return answer;
}
const inviteForm = document.getElementById('invite-form');
inviteForm?.addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors(inviteForm);
  const email = inviteForm.elements.namedItem('email').value;
  const name = inviteForm.elements.namedItem('name').value.trim();
  const created = await api('POST', '/v1/users', name === '' ? { email } : { email, name });
  if (created.status !== 201) return showError(inviteForm, created);
  await showLink(created.body.id, email);
  inviteForm.reset();
});
document.addEventListener('click', (event) => {
  const button =
    event.target instanceof Element ? event.target.closest('button[data-action="password-link"]') : null;
  if (button) void showLink(button.dataset.userId, button.dataset.userEmail);
});
