/**
 * A TestAdmin's app served on a real socket (port 0), for what goes through the gateway's
 * AdminClient or the CLI: real HTTP, the admin's real routes and SQLite.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { TestAdmin } from './admin-harness.js';

export interface AdminOnSocket {
  url: string;
  close(): Promise<void>;
}

export async function serveAdmin(admin: TestAdmin): Promise<AdminOnSocket> {
  const server = await new Promise<Server>((resolve) => {
    const started = serve({ fetch: admin.app.fetch, hostname: '127.0.0.1', port: 0 }, () =>
      resolve(started as Server),
    ) as Server;
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
