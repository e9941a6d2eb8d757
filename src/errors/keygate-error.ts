import { errorSpec, type ErrorCode } from './registry.js';

/**
 * The only error type the planes throw for an expected refusal. The code decides everything
 * else (status, type, message) through the registry.
 */
export class KeygateError extends Error {
  readonly code: ErrorCode;
  readonly param: string | null;
  readonly status: number;

  constructor(code: ErrorCode, options: { param?: string | null; message?: string } = {}) {
    const spec = errorSpec(code);
    super(options.message ?? spec.message);
    this.name = 'KeygateError';
    this.code = code;
    this.param = options.param ?? null;
    this.status = spec.status;
  }
}

export interface ErrorBody {
  error: { message: string; type: string; code: string; param: string | null; request_id?: string };
}

/** The OpenAI-shaped error body (API.md); `requestId` is included on the admin plane. */
export function errorBody(
  code: ErrorCode,
  options: { param?: string | null; message?: string; requestId?: string } = {},
): ErrorBody {
  const spec = errorSpec(code);
  const body: ErrorBody = {
    error: { message: options.message ?? spec.message, type: spec.type, code, param: options.param ?? null },
  };
  if (options.requestId !== undefined) body.error.request_id = options.requestId;
  return body;
}
