/**
 * A usage batch the admin plane refused for good: an answer in 4xx that sending the same batch
 * again cannot change (400 validation, 413 too large, 422, ...). The reporter sets such a batch
 * aside (refused-batches.ts) instead of retrying it for ever with every later batch behind it.
 *
 * Not "for good", so retried in order as before: 401 and 403 (the internal secret is wrong on one
 * side: an operator fixes it), 404 (KEYGATE_ADMIN_URL names no admin plane), 408, 425 and 429
 * (come back later), every 5xx, and no answer at all. The refusal's `code` comes from the admin
 * plane's error registry (src/errors/registry.ts), read back from its body; no code of its own.
 */
const RETRYABLE_4XX = new Set([401, 403, 404, 408, 425, 429]);

/** Whether an answer of `status` to `POST /internal/usage` refuses the batch for good. */
export function refusedForGood(status: number): boolean {
  return status >= 400 && status < 500 && !RETRYABLE_4XX.has(status);
}

/** Bytes of the admin's answer kept with a refused batch (its error body is small). */
export const MAX_REFUSAL_BODY = 4096;

export class UsageRefusedError extends Error {
  constructor(
    readonly status: number,
    /** The admin plane's answer (its OpenAI-shaped error body), at most MAX_REFUSAL_BODY characters. */
    readonly body: string,
  ) {
    super(`POST /internal/usage refused the batch for good (${status}): ${body}`);
    this.name = 'UsageRefusedError';
  }
}
