/**
 * The pooled keep-alive HTTP client to upstream model APIs (undici Agent: one pool per origin;
 * not global fetch, several times slower here, see research/anchors_perf.md §4.3).
 */
import { Agent, type Dispatcher } from 'undici';
import type { PreparedTarget } from '../target-catalog.js';
import type { ClientSignal } from './forward.js';

export interface UpstreamClientOptions {
  /** Headers timeout and idle time between body chunks. */
  timeoutMs: number;
  connectionsPerOrigin?: number;
}

export class UpstreamClient {
  private readonly agent: Agent;

  constructor(options: UpstreamClientOptions) {
    this.agent = new Agent({
      connections: options.connectionsPerOrigin ?? 256,
      keepAliveTimeout: 30_000,
      connectTimeout: Math.min(10_000, options.timeoutMs),
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  /** POST `target base path + suffix` on the target's own origin, whatever the client sent. */
  post(
    target: PreparedTarget,
    suffix: string,
    headers: Record<string, string | string[]>,
    body: Buffer | string,
    signal: ClientSignal | undefined,
  ): Promise<Dispatcher.ResponseData> {
    return this.agent.request({
      origin: target.origin,
      path: target.basePath + suffix,
      method: 'POST',
      headers,
      body,
      signal,
    });
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
