/**
 * `keygate demo`: `start` on a database of its own in a fresh temporary directory (never the one
 * at KEYGATE_DB_PATH, which it does not read, write or delete), plus a local mock upstream, a demo
 * org, team, target and key, and a ready curl line. The directory is removed when the demo stops.
 * It runs in memory mode whatever REDIS_URL says and spools usage inside that directory (the
 * deployment's Redis and KEYGATE_SPOOL_DIR stay untouched).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../src/config/config.js';
import { EXT, startPlanes } from './planes.js';

async function adminCall(
  adminUrl: string,
  masterKey: string,
  path: string,
  body: unknown,
): Promise<{ id: string; secret?: string }> {
  const response = await fetch(`${adminUrl}/v1${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${masterKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as { id: string; secret?: string };
  if (!response.ok) throw new Error(`demo setup: POST ${path} → ${response.status} ${JSON.stringify(json)}`);
  return json;
}

export async function runDemo(config: Readonly<Config>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-demo-'));
  // Removed on every way out: Ctrl-C/SIGTERM (startPlanes stops the planes, then exits), errors.
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const { startMockUpstream } = (await import(
    `../bench/mock-upstream${EXT}`
  )) as typeof import('../bench/mock-upstream.js');
  const upstream = await startMockUpstream({ port: 0, host: '127.0.0.1' });
  const masterKey = `kgm_demo_${randomBytes(18).toString('base64url')}`;
  const dbPath = join(dir, 'demo.db');
  // A fresh internal secret too: nothing of the configured deployment is reused.
  const demoConfig = Object.freeze({ ...config, dbPath, internalSecret: undefined });
  const planes = await startPlanes(demoConfig, {
    KEYGATE_DB_PATH: dbPath,
    KEYGATE_MASTER_KEY: masterKey,
    KEYGATE_ADMIN_URL: `http://${config.adminHost}:${config.adminPort}`,
    KEYGATE_GATEWAY_URLS: `http://${config.gatewayHost}:${config.gatewayPort}`,
    KEYGATE_LOG_LEVEL: process.env.KEYGATE_LOG_LEVEL ?? 'warn',
    // Memory mode and one worker: a configured REDIS_URL belongs to the real deployment, whose
    // change channel and counters the demo must not join (an empty value reads as unset).
    REDIS_URL: '',
    KEYGATE_GATEWAY_WORKERS: '1',
    // Its own usage spool: the deployment's (./data/spool by default) holds usage of real keys.
    KEYGATE_SPOOL_DIR: join(dir, 'spool'),
  });
  const org = await adminCall(planes.adminUrl, masterKey, '/orgs', { name: 'demo-org' });
  const team = await adminCall(planes.adminUrl, masterKey, '/teams', { org_id: org.id, name: 'demo-team' });
  await adminCall(planes.adminUrl, masterKey, '/targets', {
    name: 'demo-model',
    upstream: { base_url: `${upstream.url}/v1`, model: 'mock-gpt' },
    pricing: { input_per_mtok: 0.15, output_per_mtok: 0.6 },
    tags: ['demo'],
  });
  const sa = { type: 'service_account', create: { name: 'demo-app' } };
  const created = await adminCall(planes.adminUrl, masterKey, '/keys', {
    name: 'demo-key',
    team_id: team.id,
    owner: sa,
  });
  process.stdout.write(
    [
      '',
      'keygate demo is running (Ctrl-C to stop)',
      `  gateway       ${planes.gatewayUrl}`,
      `  admin         ${planes.adminUrl}   master key: ${masterKey}`,
      `  mock upstream ${upstream.url}`,
      `  database      ${dbPath} (temporary, removed on exit)`,
      '',
      'Try it:',
      `  curl -fsS ${planes.gatewayUrl}/v1/chat/completions \\`,
      `    -H 'Authorization: Bearer ${created.secret}' -H 'content-type: application/json' \\`,
      `    -d '{"model":"demo-model","messages":[{"role":"user","content":"Hello"}]}'`,
      '',
    ].join('\n'),
  );
}
