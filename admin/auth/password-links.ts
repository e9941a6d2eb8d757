/**
 * One-time set-password links: a random token (only its sha256 is stored) that expires after
 * KEYGATE_PASSWORD_LINK_TTL_MS and works once. A new link for a user voids the older unused ones.
 */
import type { Database } from '../../src/storage/database.js';
import { randomToken, sha256Hex } from './sessions.js';

export const SET_PASSWORD_PATH = '/set-password/';

export function createPasswordLink(
  db: Database,
  userId: string,
  now: number,
  ttlMs: number,
): { token: string; expiresAt: number } {
  const token = randomToken();
  db.prepare('DELETE FROM password_links WHERE user_id = ? AND used_at IS NULL').run(userId);
  db.prepare(
    'INSERT INTO password_links (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)',
  ).run(sha256Hex(token), userId, now, now + ttlMs);
  return { token, expiresAt: now + ttlMs };
}

interface LinkRow {
  user_id: string;
  email: string;
  expires_at: number;
  used_at: number | null;
}

/** The user (id, email) a usable link belongs to, or undefined (unknown, used or expired). */
export function peekPasswordLink(
  db: Database,
  token: string,
  now: number,
): { userId: string; email: string } | undefined {
  const row = db
    .prepare(
      'SELECT l.user_id, u.email, l.expires_at, l.used_at FROM password_links l JOIN users u ON u.id = l.user_id WHERE l.token_hash = ?',
    )
    .get(sha256Hex(token)) as LinkRow | undefined;
  if (row === undefined || row.used_at !== null || row.expires_at <= now) return undefined;
  return { userId: row.user_id, email: row.email };
}

/** Marks the link used and stores the password hash, in one transaction; false when no longer usable. */
export function consumePasswordLink(db: Database, token: string, passwordHash: string, now: number): boolean {
  return db
    .transaction(() => {
      const link = peekPasswordLink(db, token, now);
      if (link === undefined) return false;
      db.prepare('UPDATE password_links SET used_at = ? WHERE token_hash = ?').run(now, sha256Hex(token));
      db.prepare('UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?').run(
        passwordHash,
        now,
        link.userId,
      );
      // A new password ends every session of that user.
      db.prepare('DELETE FROM sessions WHERE user_id = ?').run(link.userId);
      return true;
    })
    .immediate();
}
