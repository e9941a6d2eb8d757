/**
 * The secret-shown-once panel and the confirmation dialog of row actions (regenerate with a
 * grace period, revoke, delete). The secret is put into the panel by the browser script from the
 * API answer, and removed from the page when the panel closes; it never reaches a URL, cookie,
 * storage or log.
 */
export function SecretDialog() {
  return (
    <dialog id="secret-dialog" aria-labelledby="secret-title" aria-describedby="secret-warning">
      <h2 id="secret-title">Copy your new key</h2>
      <p id="secret-warning" class="warning">
        You will not see it again: keygate stores only its hash.
      </p>
      <div class="secret-row">
        <code id="secret-value" data-testid="secret-value"></code>
        <button type="button" id="secret-copy">
          Copy
        </button>
      </div>
      <p id="secret-copied" class="hint" role="status"></p>
      <div class="buttons">
        <button type="button" class="primary" id="secret-done">
          Done, I have copied it
        </button>
      </div>
    </dialog>
  );
}

export function ConfirmDialog() {
  return (
    <dialog id="confirm-dialog" aria-labelledby="confirm-title" aria-describedby="confirm-text">
      <form id="confirm-form" novalidate>
        <h2 id="confirm-title">Confirm</h2>
        <p id="confirm-text"></p>
        <div class="field" id="confirm-grace" hidden>
          <label for="confirm-grace-minutes">Old secret keeps working for (minutes)</label>
          <input
            id="confirm-grace-minutes"
            name="grace_minutes"
            type="number"
            min="0"
            max="43200"
            value="0"
          />
        </div>
        <p class="error" id="confirm-error" role="alert" hidden></p>
        <div class="buttons">
          <button type="button" data-close-dialog>
            Cancel
          </button>
          <button type="submit" class="primary" id="confirm-ok">
            Confirm
          </button>
        </div>
      </form>
    </dialog>
  );
}
