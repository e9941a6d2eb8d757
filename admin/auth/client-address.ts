/**
 * The client address of an admin request (the socket's peer, from @hono/node-server's `incoming`),
 * used to key the failed-authentication throttle. Forwarding headers are not trusted. Requests
 * without a socket (in-process `app.request()`) share the key `unknown`.
 */
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';

export function clientAddress(c: Context): string {
  const env = c.env as { incoming?: IncomingMessage } | undefined;
  return env?.incoming?.socket.remoteAddress ?? 'unknown';
}
