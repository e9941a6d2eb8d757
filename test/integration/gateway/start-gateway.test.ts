/** startGateway (gateway/main.ts) with no admin plane reachable: it starts, fails closed, reports not ready. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/config.js';
import { generateSecret } from '../../../src/keys/secret.js';
import { startGateway } from '../../../gateway/main.js';

describe('startGateway', () => {
  it('starts without the admin plane: /healthz 200, /readyz 503, requests 503 auth_unavailable', async () => {
    // A spool of its own: the default ./data/spool is shared with any test running beside it.
    const spoolDir = mkdtempSync(join(tmpdir(), 'keygate-start-gateway-'));
    // An admin URL that cannot answer: a port this test holds, whose connections are reset (a
    // free port could be taken meanwhile by a test running beside this one).
    const dead = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const config = loadConfig({
      KEYGATE_GATEWAY_PORT: '0',
      KEYGATE_SPOOL_DIR: spoolDir,
      KEYGATE_ADMIN_URL: `http://127.0.0.1:${(dead.address() as AddressInfo).port}`,
      KEYGATE_INTERNAL_SECRET: 'start-gateway-test-secret-0123456789abcdef',
      KEYGATE_LOG_LEVEL: 'silent',
    });
    const gateway = await startGateway(config, { logger: pino({ level: 'silent' }) });
    try {
      expect(gateway.port).toBeGreaterThan(0);
      expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${gateway.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ ready: false, adminReachable: false });
      const response = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${generateSecret()}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'x', messages: [] }),
      });
      expect(response.status).toBe(503);
      expect(((await response.json()) as any).error.code).toBe('auth_unavailable');
      expect(response.headers.get('x-request-id')).toBeTruthy();
    } finally {
      await gateway.close();
      await new Promise((resolve) => dead.close(resolve));
      rmSync(spoolDir, { recursive: true, force: true });
    }
    await expect(fetch(`${gateway.url}/healthz`)).rejects.toThrow();
  });

  it('refuses to start without the internal secret', async () => {
    const config = loadConfig({ KEYGATE_GATEWAY_PORT: '0', KEYGATE_LOG_LEVEL: 'silent' });
    await expect(startGateway(config, { logger: pino({ level: 'silent' }) })).rejects.toThrow(
      'KEYGATE_INTERNAL_SECRET',
    );
  });
});
