/**
 * `keygate health`: exit 0 when the admin plane and the gateway of this configuration both answer
 * /healthz within 3 s, 1 otherwise (the Docker image's HEALTHCHECK). A wildcard listen host
 * (0.0.0.0, ::) is checked through the loopback address.
 */
import type { Config } from '../src/config/config.js';

export function localUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host;
  return `http://${reachable.includes(':') && !reachable.startsWith('[') ? `[${reachable}]` : reachable}:${port}`;
}

async function healthy(url: string): Promise<string | undefined> {
  try {
    const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(3000) });
    await response.arrayBuffer();
    return response.ok ? undefined : `${url}/healthz answered ${response.status}`;
  } catch (error) {
    return `${url}/healthz: ${error instanceof Error ? error.message : String(error)}`;
  }
}

export async function runHealth(config: Readonly<Config>): Promise<number> {
  const problems = (
    await Promise.all([
      healthy(localUrl(config.adminHost, config.adminPort)),
      healthy(localUrl(config.gatewayHost, config.gatewayPort)),
    ])
  ).filter((problem) => problem !== undefined);
  for (const problem of problems) process.stderr.write(`keygate health: ${problem}\n`);
  return problems.length === 0 ? 0 : 1;
}
