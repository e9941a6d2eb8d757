/**
 * Strict input on every admin route (issue 14 item 1): an unknown body field or query parameter
 * is refused with 400 `invalid_request` naming it in `param`, never silently dropped. A LiteLLM
 * user's `budget_duration` or `models` used to answer 201 and configure nothing; a misspelled
 * filter (`GET /v1/usage?user_id=`) used to widen the scope to everything.
 *
 * Applied in one place: `strictRoutes(app)` wraps `app.openapi`, so every route registered after
 * it validates its body and query with every nested object made strict (`additionalProperties:
 * false` in /openapi.json too), and a route that declares no query refuses any query parameter.
 * Fields other gateways use get a message naming keygate's equivalent (`KNOWN_ALIASES`).
 */
import { z, type RouteConfig } from '@hono/zod-openapi';

/** Field names LiteLLM / DeltaLLM / Unkey users try, and what keygate calls them. */
export const KNOWN_ALIASES: Readonly<Record<string, string>> = {
  models: 'access: {"mode": "restrict", "targets": [...]}',
  model: 'access: {"mode": "restrict", "targets": [...]}',
  allowed_models: 'access: {"mode": "restrict", "targets": [...]}',
  budget_duration: 'budget_period ("day" | "week" | "month" | null)',
  budget_reset_at: 'budget_period (resets are calendar-aligned in UTC; the view shows period_resets_at)',
  duration: 'expires_in_days or expires_at',
  key_alias: 'name',
  key_name: 'name',
  team_alias: 'name',
  user_id: 'owner (on keys) or key_id | team_id | org_id (on usage)',
  blocked: 'POST /v1/keys/{id}/block and /unblock',
  tpm: 'tpm_limit',
  rpm: 'rpm_limit',
  tpd: 'tpd_limit',
  rpd: 'rpd_limit',
  rph: 'rph_limit',
  tpm_limits: 'tpm_limit',
  rpm_limits: 'rpm_limit',
  max_parallel: 'max_parallel_requests',
  parallel_requests: 'max_parallel_requests',
  soft_budget_limit: 'soft_budget',
  budget: 'max_budget',
  max_budget_usd: 'max_budget',
  spend_limit: 'max_budget',
  model_max_budget: 'max_budget with an access restriction per key',
  model_rpm_limit: 'rpm_limit on a key restricted to that target',
  model_tpm_limit: 'tpm_limit on a key restricted to that target',
  ratelimit: 'rpm_limit | rph_limit | rpd_limit | tpm_limit | tpd_limit',
};

type Schema = z.ZodType;

/** `schema` with every object in it (through optional, nullable, default, union, array, pipe) strict. */
export function strictDeep<T extends Schema>(schema: T): T {
  const def = (schema as unknown as { def: Record<string, unknown> & { type: string } }).def;
  const clone = (patch: Record<string, unknown>): T =>
    (schema as unknown as { clone(def: unknown): T }).clone({ ...def, ...patch });
  switch (def.type) {
    case 'object': {
      const shape = def.shape as Record<string, Schema>;
      const strictShape = Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, strictDeep(v)]));
      return clone({ shape: strictShape, catchall: z.never() });
    }
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
      return clone({ innerType: strictDeep(def.innerType as Schema) });
    case 'union':
      return clone({ options: (def.options as Schema[]).map(strictDeep) });
    case 'array':
      return clone({ element: strictDeep(def.element as Schema) });
    case 'pipe':
      return clone({ in: strictDeep(def.in as Schema) });
    default:
      return schema;
  }
}

const NO_QUERY = z.object({}).strict();

/** The route with its body and query made strict (and an empty strict query when it has none). */
export function strictRoute<R extends RouteConfig>(route: R): R {
  const request = route.request ?? {};
  const media = request.body?.content?.['application/json'] as { schema?: unknown } | undefined;
  const body = media?.schema;
  return {
    ...route,
    request: {
      ...request,
      query: request.query === undefined ? NO_QUERY : strictDeep(request.query as Schema),
      ...(request.body !== undefined && body !== undefined
        ? {
            body: {
              ...request.body,
              content: {
                ...request.body.content,
                'application/json': { ...media, schema: strictDeep(body as Schema) },
              },
            },
          }
        : {}),
    },
  };
}

/** Makes every route registered on `app` from now on strict (see the module header). */
export function strictRoutes<A extends { openapi: (route: never, ...rest: never[]) => unknown }>(
  app: A,
): void {
  const register = app.openapi.bind(app) as (route: RouteConfig, ...rest: unknown[]) => unknown;
  (app as { openapi: unknown }).openapi = (route: RouteConfig, ...rest: unknown[]) =>
    register(strictRoute(route), ...rest);
}

/**
 * `param` and message of a failed validation: an unknown field first (it is most often a typo of
 * a missing one), named with keygate's equivalent when it has one; else the first issue.
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): {
  param?: string | null;
  message?: string;
} {
  const issue = issues.find((entry) => entry.code === 'unrecognized_keys') ?? issues[0];
  return issue === undefined ? {} : issueParamAndMessage(issue);
}

function issueParamAndMessage(issue: z.core.$ZodIssue): { param: string | null; message: string } {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const field = issue.keys[0] ?? '';
    const param = [...path, field].join('.');
    const alias = KNOWN_ALIASES[field];
    const hint = alias === undefined ? '' : ` keygate's equivalent: ${alias}.`;
    return { param, message: `${param}: unknown field.${hint}` };
  }
  const param = path.length === 0 ? null : path.join('.');
  return { param, message: `${param ?? 'body'}: ${issue.message}` };
}
