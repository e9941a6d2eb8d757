/**
 * One-time set-password links: a random token (only its sha256 is stored) that expires after
 * KEYGATE_PASSWORD_LINK_TTL_MS and works once. A new link for a user voids the older unused ones.
 */
import { immediate, type Database } from '../../src/storage/database.js';
import { recordAudit } from '../../src/storage/journal.js';
import {
  findPasswordLink,
  replacePasswordLink,
  usePasswordLink,
} from '../../src/storage/session-repository.js';
import { randomToken, sha256Hex } from './sessions.js';

export const SET_PASSWORD_PATH = '/set-password/';

export function createPasswordLink(
  db: Database,
  userId: string,
  now: number,
  ttlMs: number,
): { token: string; expiresAt: number } {
  const token = randomToken();
  replacePasswordLink(db, { tokenHash: sha256Hex(token), userId, createdAt: now, expiresAt: now + ttlMs });
  return { token, expiresAt: now + ttlMs };
}

/** The user (id, email) a usable link belongs to, or undefined (unknown, used or expired). */
export function peekPasswordLink(
  db: Database,
  token: string,
  now: number,
): { userId: string; email: string } | undefined {
  const row = findPasswordLink(db, sha256Hex(token));
  if (row === undefined || row.used_at !== null || row.expires_at <= now) return undefined;
  return { userId: row.user_id, email: row.email };
}

/**
 * Marks the link used and stores the password hash, in one transaction with its audit entry
 * (`user.password.set`, the user as actor: a new credential and ended sessions are a mutation
 * like any other; never the password or the token); false when no longer usable.
 */
export function consumePasswordLink(
  db: Database,
  token: string,
  passwordHash: string,
  now: number,
  requestId: string | null = null,
): boolean {
  return immediate(db, () => {
    const link = peekPasswordLink(db, token, now);
    if (link === undefined) return false;
    // A new password ends every session of that user (usePasswordLink deletes them).
    usePasswordLink(db, { tokenHash: sha256Hex(token), userId: link.userId, passwordHash, now });
    recordAudit(db, {
      actor: { type: 'user', id: link.userId },
      via: 'self_service',
      action: 'user.password.set',
      entityType: 'user',
      entityId: link.userId,
      after: { sessions_ended: true },
      requestId,
      at: now,
    });
    return true;
  });
}
