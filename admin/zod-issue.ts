/**
 * The one conversion of a failed zod validation into an `invalid_request` error's `param` and
 * message: the first issue's path joined with dots (`limits.rpm_limit`, `owner.id`), or null at
 * the root, and `<param or body>: <zod message>`.
 */
import type { z } from '@hono/zod-openapi';

export function issueDetails(error: z.ZodError): { param: string | null; message: string | undefined } {
  const issue = error.issues[0];
  if (issue === undefined) return { param: null, message: undefined };
  const param = issue.path.length === 0 ? null : issue.path.map(String).join('.');
  return { param, message: `${param ?? 'body'}: ${issue.message}` };
}
