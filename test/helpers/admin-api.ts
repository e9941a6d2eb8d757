/**
 * The admin API as the process-level tests call it: one master-key client and the seed rows
 * (a priced target on the mock upstream, keys owned by a fresh service account) that the e2e
 * stacks share.
 */
export interface ApiResult {
  status: number;
  body: any;
}

export type AdminApi = (method: string, path: string, body?: unknown) => Promise<ApiResult>;

/** Admin API calls on `adminUrl` with the master key. */
export function masterKeyApi(adminUrl: string | (() => string), masterKey: string): AdminApi {
  return async (method, path, body) => {
    const base = typeof adminUrl === 'string' ? adminUrl : adminUrl();
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${masterKey}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
  };
}

/** The body of an answer with `status`; throws with `what` otherwise. */
export function expectStatus(result: ApiResult, status: number, what: string): any {
  if (result.status !== status) throw new Error(`${what}: ${result.status} ${JSON.stringify(result.body)}`);
  return result.body;
}

/** `${prefix}-model` on the mock upstream, priced $1 / $2 per million tokens. */
export async function createPricedTarget(api: AdminApi, mockUrl: string, prefix: string): Promise<any> {
  return expectStatus(
    await api('POST', '/v1/targets', {
      name: `${prefix}-model`,
      upstream: { base_url: `${mockUrl}/v1`, model: 'mock-model', api_key_env: 'E2E_PROVIDER_KEY' },
      pricing: { input_per_mtok: 1, output_per_mtok: 2 },
    }),
    201,
    'create target',
  );
}

/** Creates a key of `teamId` owned by a new service account (extra fields merged into the body). */
export function keyCreator(api: AdminApi, prefix: string, teamId: string) {
  return async (extra: Record<string, unknown> = {}) =>
    expectStatus(
      await api('POST', '/v1/keys', {
        name: `${prefix}-key`,
        team_id: teamId,
        owner: {
          type: 'service_account',
          create: { name: `${prefix}-svc-${Math.random().toString(36).slice(2, 8)}` },
        },
        ...extra,
      }),
      201,
      'create key',
    ) as { key: { id: string }; secret: string };
}
