/**
 * Console sessions and set-password links in SQLite (admin/auth/sessions.ts and
 * admin/auth/password-links.ts own the tokens; only their sha256 reaches these tables).
 */
import type { Database } from './database.js';
import { prepared } from './statements.js';

export interface SessionInsert {
  idHash: string;
  /** null for a master-key session. */
  userId: string | null;
  isMaster: boolean;
  masterFingerprint: string | null;
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
}

/** Stores the session and drops every session expired at `createdAt`. */
export function insertSession(db: Database, session: SessionInsert): void {
  prepared(
    db,
    'INSERT INTO sessions (id_hash, user_id, is_master, master_fingerprint, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  ).run(
    session.idHash,
    session.userId,
    session.isMaster ? 1 : 0,
    session.masterFingerprint,
    session.csrfToken,
    session.createdAt,
    session.expiresAt,
  );
  prepared(db, 'DELETE FROM sessions WHERE expires_at <= ?').run(session.createdAt);
}

export interface SessionColumns {
  is_master: number;
  master_fingerprint: string | null;
  csrf_token: string;
  expires_at: number;
}

/** The session with its user's columns (`u.*`, all null for a master-key session). */
export function findSession<User>(
  db: Database,
  idHash: string,
): (SessionColumns & Partial<User>) | undefined {
  return prepared(
    db,
    `SELECT s.is_master, s.master_fingerprint, s.csrf_token, s.expires_at, u.* FROM sessions s
     LEFT JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?`,
  ).get(idHash) as (SessionColumns & Partial<User>) | undefined;
}

export function deleteSession(db: Database, idHash: string): void {
  prepared(db, 'DELETE FROM sessions WHERE id_hash = ?').run(idHash);
}

/** Stores a new link and voids the user's older unused ones. */
export function replacePasswordLink(
  db: Database,
  link: { tokenHash: string; userId: string; createdAt: number; expiresAt: number },
): void {
  prepared(db, 'DELETE FROM password_links WHERE user_id = ? AND used_at IS NULL').run(link.userId);
  prepared(
    db,
    'INSERT INTO password_links (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)',
  ).run(link.tokenHash, link.userId, link.createdAt, link.expiresAt);
}

export interface PasswordLinkRow {
  user_id: string;
  email: string;
  expires_at: number;
  used_at: number | null;
}

/** The link with its user's email. */
export function findPasswordLink(db: Database, tokenHash: string): PasswordLinkRow | undefined {
  return prepared(
    db,
    'SELECT l.user_id, u.email, l.expires_at, l.used_at FROM password_links l JOIN users u ON u.id = l.user_id WHERE l.token_hash = ?',
  ).get(tokenHash) as PasswordLinkRow | undefined;
}

/**
 * Marks the link used, stores the user's new password hash and ends every session of that user
 * (a new password signs everyone out). The caller runs it in the transaction that checked the link.
 */
export function usePasswordLink(
  db: Database,
  use: { tokenHash: string; userId: string; passwordHash: string; now: number },
): void {
  prepared(db, 'UPDATE password_links SET used_at = ? WHERE token_hash = ?').run(use.now, use.tokenHash);
  prepared(db, 'UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?').run(
    use.passwordHash,
    use.now,
    use.userId,
  );
  prepared(db, 'DELETE FROM sessions WHERE user_id = ?').run(use.userId);
}
