/** The request id of both planes: the client's `x-request-id` when it is sane, else a fresh UUID. */
import { randomUUID } from 'node:crypto';

const SANE = /^[\w.:-]{1,128}$/;

export function requestIdOf(sent: string | undefined): string {
  return sent !== undefined && SANE.test(sent) ? sent : randomUUID();
}
