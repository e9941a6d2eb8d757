/**
 * The one error-code registry of both planes (API.md "Errors"). Throw sites pick a code; this
 * table decides the HTTP status, the OpenAI `type`, whether a client should retry, and the
 * public message. test/unit/docs/docs-sync.test.ts keeps it in sync with the README table; the
 * gateway derives `x-should-retry` from `retryable`.
 */
export interface ErrorSpec {
  status: number;
  type: string;
  retryable: boolean;
  message: string;
}

export const ERROR_REGISTRY = {
  invalid_request: {
    status: 400,
    type: 'invalid_request_error',
    retryable: false,
    message: 'The request is malformed or fails validation.',
  },
  budget_exceeds_team_ceiling: {
    status: 400,
    type: 'invalid_request_error',
    retryable: false,
    message: "The key's budget is missing, shadow or above the team's self-service ceiling.",
  },
  budget_period_not_allowed: {
    status: 400,
    type: 'invalid_request_error',
    retryable: false,
    message: "A self-service key under the team's budget ceiling may not set a budget period.",
  },
  expiry_required: {
    status: 400,
    type: 'invalid_request_error',
    retryable: false,
    message: 'The team requires self-service keys to have an expiry.',
  },
  expiry_exceeds_team_max: {
    status: 400,
    type: 'invalid_request_error',
    retryable: false,
    message: "The key's expiry is beyond the team's maximum.",
  },
  limit_exceeds_team_limit: {
    status: 400,
    type: 'invalid_request_error',
    retryable: false,
    message: "A limit is above the team's limit.",
  },
  target_not_in_parent_scope: {
    status: 400,
    type: 'invalid_request_error',
    retryable: false,
    message: 'The selection includes a target or access group that the parent scope does not allow.',
  },
  missing_api_key: {
    status: 401,
    type: 'authentication_error',
    retryable: false,
    message: 'No API key was provided. Send it as "Authorization: Bearer <key>" or "x-api-key".',
  },
  invalid_api_key: {
    status: 401,
    type: 'authentication_error',
    retryable: false,
    message: 'The API key is not valid.',
  },
  key_revoked: {
    status: 401,
    type: 'authentication_error',
    retryable: false,
    message: 'The API key has been revoked.',
  },
  key_blocked: {
    status: 401,
    type: 'authentication_error',
    retryable: false,
    message: 'The API key is blocked (it, or the user owning it, is paused by an administrator).',
  },
  key_expired: {
    status: 401,
    type: 'authentication_error',
    retryable: false,
    message: 'The API key has expired.',
  },
  unauthenticated: {
    status: 401,
    type: 'authentication_error',
    retryable: false,
    message: 'Missing, invalid or expired credentials.',
  },
  forbidden: {
    status: 403,
    type: 'permission_error',
    retryable: false,
    message: 'You do not have permission to do this.',
  },
  self_service_disabled: {
    status: 403,
    type: 'permission_error',
    retryable: false,
    message: 'Self-service key creation is disabled for this team.',
  },
  max_keys_per_user_reached: {
    status: 403,
    type: 'permission_error',
    retryable: false,
    message: 'You already have the maximum number of active keys in this team.',
  },
  csrf_token_invalid: {
    status: 403,
    type: 'permission_error',
    retryable: false,
    message: 'A state-changing request signed in by session cookie needs the x-csrf-token header.',
  },
  model_not_allowed: {
    status: 403,
    type: 'permission_error',
    retryable: false,
    message: 'This key is not allowed to use this model.',
  },
  not_found: { status: 404, type: 'not_found_error', retryable: false, message: 'Not found.' },
  model_not_found: {
    status: 404,
    type: 'not_found_error',
    retryable: false,
    message: 'The model does not exist.',
  },
  conflict: {
    status: 409,
    type: 'conflict_error',
    retryable: false,
    message: 'The request conflicts with an existing object.',
  },
  request_too_large: {
    status: 413,
    type: 'invalid_request_error',
    retryable: false,
    message: 'The request body is too large.',
  },
  rate_limit_exceeded: {
    status: 429,
    type: 'rate_limit_error',
    retryable: true,
    message: 'Rate limit exceeded.',
  },
  budget_exceeded: { status: 429, type: 'budget_exceeded', retryable: false, message: 'Budget exceeded.' },
  too_many_auth_failures: {
    status: 429,
    type: 'rate_limit_error',
    retryable: false,
    message: 'Too many failed authentications from this address; wait for retry-after.',
  },
  upstream_error: {
    status: 502,
    type: 'api_error',
    retryable: true,
    message: 'The upstream model API failed.',
  },
  upstream_timeout: {
    status: 504,
    type: 'api_error',
    retryable: true,
    message: 'The upstream model API timed out.',
  },
  upstream_response_too_large: {
    status: 502,
    type: 'api_error',
    retryable: true,
    message: 'The upstream answer exceeded KEYGATE_MAX_RESPONSE_BYTES; the gateway cut it.',
  },
  auth_unavailable: {
    status: 503,
    type: 'api_error',
    retryable: true,
    message: 'The key cannot be verified right now.',
  },
  budget_unavailable: {
    status: 503,
    type: 'api_error',
    retryable: true,
    message: 'The spend store is unavailable.',
  },
  internal_error: { status: 500, type: 'api_error', retryable: true, message: 'Internal error.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_REGISTRY;

export function errorSpec(code: ErrorCode): ErrorSpec {
  return ERROR_REGISTRY[code];
}
