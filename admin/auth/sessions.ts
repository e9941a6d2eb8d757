/**
 * Console sign-in sessions: a random id in an HttpOnly, SameSite=Strict cookie (Secure when the
 * request came over HTTPS), stored server-side only as its sha256 with an absolute expiry and a
 * CSRF token. A session is the master key ("platform admin (master key)") or one user; the
 * user's roles are read again on every request, like for a JWT. A master-key session keeps a
 * fingerprint of the key it was opened with and ends when the master key changes.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Clock } from '../../src/clock.js';
import type { Database } from '../../src/storage/database.js';
import { deleteSession, findSession, insertSession } from '../../src/storage/session-repository.js';
import type { Caller, UserRow } from './access.js';

export const SESSION_COOKIE = 'kg_session';
export const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface LoadedSession {
  caller: Caller;
  csrf: string;
  expiresAt: number;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Constant-time equality of two strings (false when either is missing). */
export function sameSecret(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** HTTPS as seen by the server, or as reported by a TLS-terminating proxy (only ever adds Secure). */
export function isHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
}

export function setStrictCookie(c: Context, name: string, value: string, maxAgeSeconds: number): void {
  setCookie(c, name, value, {
    httpOnly: true,
    sameSite: 'Strict',
    secure: isHttps(c),
    path: '/',
    maxAge: maxAgeSeconds,
  });
}

export class SessionStore {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly ttlMs: number,
    /** The current master key's fingerprint: a master-key session opened with another key is void. */
    private readonly masterFingerprint: string,
  ) {}

  /** Starts a session and sets its cookie; returns the CSRF token the pages embed. */
  start(c: Context, principal: { userId: string } | 'master'): string {
    const token = randomToken();
    const csrf = randomToken();
    const now = this.clock.now();
    insertSession(this.db, {
      idHash: sha256Hex(token),
      userId: principal === 'master' ? null : principal.userId,
      isMaster: principal === 'master',
      masterFingerprint: principal === 'master' ? this.masterFingerprint : null,
      csrfToken: csrf,
      createdAt: now,
      expiresAt: now + this.ttlMs,
    });
    setStrictCookie(c, SESSION_COOKIE, token, Math.floor(this.ttlMs / 1000));
    return csrf;
  }

  /** The session of the request's cookie, or undefined (missing, unknown or expired). */
  load(c: Context): LoadedSession | undefined {
    const token = getCookie(c, SESSION_COOKIE);
    if (token === undefined) return undefined;
    const row = findSession<UserRow>(this.db, sha256Hex(token));
    if (row === undefined || row.expires_at <= this.clock.now()) return undefined;
    if (row.is_master === 1 && row.master_fingerprint !== this.masterFingerprint) return undefined;
    const caller: Caller =
      row.is_master === 1
        ? { kind: 'master' }
        : {
            kind: 'user',
            user: {
              id: row.id!,
              email: row.email!,
              name: row.name ?? null,
              platform_role: row.platform_role!,
              blocked: row.blocked!,
              created_at: row.created_at!,
              updated_at: row.updated_at!,
            },
          };
    return { caller, csrf: row.csrf_token, expiresAt: row.expires_at };
  }

  /** Ends the request's session (server-side and the cookie). */
  end(c: Context): void {
    const token = getCookie(c, SESSION_COOKIE);
    if (token !== undefined) deleteSession(this.db, sha256Hex(token));
    deleteCookie(c, SESSION_COOKIE, { path: '/', secure: isHttps(c) });
  }
}
