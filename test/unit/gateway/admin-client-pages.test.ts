/**
 * Warm-start pages through the admin client (issue 15): the next page's cursor comes in the
 * `x-keygate-next` header, before the page's policies have arrived (so the preloader can ask for
 * the next page meanwhile); from an admin plane without the header, from the body. A plain
 * node:http server plays the admin plane and holds the body back until told.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../../gateway/admin-client.js';
import { systemClock } from '../../../src/clock.js';
import { policyFor } from '../../helpers/gateway-fixtures.js';

const held: { res: ServerResponse; body: string }[] = [];
let withHeader = true;
let server: Server;
let client: AdminClient;

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://admin');
    const after = url.searchParams.get('after');
    const next = after === null ? '5:key_b' : null;
    const body = JSON.stringify({ policies: [policyFor('a'.repeat(64), { version: 3 })], next });
    res.writeHead(200, {
      'content-type': 'application/json',
      ...(withHeader ? { 'x-keygate-next': next ?? 'none' } : {}),
    });
    res.write(body.slice(0, 10)); // the headers and the start of the body now, the rest when told
    held.push({ res, body: body.slice(10) });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  client = new AdminClient({
    adminUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    internalSecret: 'test-internal-secret-0123456789-abcdef',
    gatewayId: 'gw-pages',
    clock: systemClock,
  });
});

afterAll(async () => {
  await client.close();
  await new Promise((resolve) => server.close(resolve));
});

/** Ends the held answers once the request has reached the server (a fixed sleep lost the race under load). */
const release = async (): Promise<void> => {
  while (held.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  for (const { res, body } of held.splice(0)) res.end(body);
};

describe('AdminClient warm-start pages', () => {
  it('knows the next cursor from the header while the policies are still arriving', async () => {
    withHeader = true;
    const page = await client.recentKeys(null, 1);
    expect(page.next).toBe('5:key_b');
    let arrived = false;
    const policies = Promise.resolve(page.policies).then((list) => {
      arrived = true;
      return list;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(arrived).toBe(false);
    await release();
    expect((await policies).map((policy) => policy.tokenHash)).toEqual(['a'.repeat(64)]);
    const last = client.recentKeys('5:key_b', 1);
    await release();
    expect((await last).next).toBeNull();
  });

  it('reads the cursor from the body when the admin plane sends no header', async () => {
    withHeader = false;
    const page = client.recentKeys(null, 1);
    await release();
    const answered = await page;
    expect(answered.next).toBe('5:key_b');
    expect(Array.isArray(answered.policies)).toBe(true);
  });
});
