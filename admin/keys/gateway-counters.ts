/**
 * The live counters of every gateway for one key (issue 14 item 7): `GET /internal/explain` on each
 * of KEYGATE_GATEWAY_URLS, signed with the internal token, 2 s each, all at once. A gateway that
 * does not answer is reported as such; the explain still answers with what the others said.
 */
import type { InternalTokens } from '../../src/invalidation/internal-token.js';

export interface GatewayCounters {
  windows: { param: string; mode: 'enforce' | 'shadow'; limit: number; used: number; reset_ms: number }[];
  budgets: { scope: 'key' | 'team' | 'org'; spend_micros: number; reserved_micros: number }[];
}

export type GatewayAnswer =
  { gateway: string; ok: true; counters: GatewayCounters } | { gateway: string; ok: false; error: string };

export interface GatewayCounterSource {
  counters(tokenHash: string): Promise<GatewayAnswer[]>;
}

export class HttpGatewayCounters implements GatewayCounterSource {
  constructor(
    private readonly gatewayUrls: readonly string[],
    private readonly tokens: InternalTokens,
  ) {}

  async counters(tokenHash: string): Promise<GatewayAnswer[]> {
    const authorization = await this.tokens.authorizationHeader();
    return Promise.all(
      this.gatewayUrls.map(async (gateway): Promise<GatewayAnswer> => {
        try {
          const response = await fetch(`${gateway}/internal/explain?token_hash=${tokenHash}`, {
            headers: { authorization },
            signal: AbortSignal.timeout(2_000),
          });
          if (response.status !== 200) {
            await response.arrayBuffer();
            return { gateway, ok: false, error: `answered ${response.status}` };
          }
          return { gateway, ok: true, counters: (await response.json()) as GatewayCounters };
        } catch (error) {
          return { gateway, ok: false, error: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
  }
}
