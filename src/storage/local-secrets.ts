/**
 * Where the admin plane keeps the secrets it generates itself (the HS256 `jwt_secret` and the
 * `internal_secret` of `keygate start`) when they are not configured: a separate file next to the
 * database, `<db path>.secrets.json`, created 0600 — never in the database, so read access to the
 * SQLite file (a backup, a copied volume) does not let anyone forge a platform-admin JWT
 * (issue 10 item 7). Secrets that earlier versions stored in the `meta` table move to the file on
 * first use. A `:memory:` database (tests) keeps them in its own `meta` table: there is no file.
 * Split deployments configure both secrets in the environment instead (README "Security").
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { getMeta, setMeta, type Database } from './database.js';

export type LocalSecretName = 'jwt_secret' | 'internal_secret';

export function secretsFilePath(dbPath: string): string {
  return `${dbPath}.secrets.json`;
}

export class LocalSecrets {
  private readonly file: string | undefined;

  constructor(
    private readonly db: Database,
    dbPath: string,
  ) {
    this.file = dbPath === ':memory:' || dbPath === '' ? undefined : secretsFilePath(dbPath);
  }

  /** The stored secret, or a new random one stored now (shown to nobody). */
  getOrCreate(name: LocalSecretName): string {
    if (this.file === undefined) {
      const stored = getMeta(this.db, name);
      if (stored !== undefined) return stored;
      const secret = randomBytes(32).toString('base64url');
      setMeta(this.db, name, secret);
      return secret;
    }
    const secrets = this.read(this.file);
    const existing = secrets[name];
    if (existing !== undefined) return existing;
    const legacy = getMeta(this.db, name);
    secrets[name] = legacy ?? randomBytes(32).toString('base64url');
    this.write(this.file, secrets);
    if (legacy !== undefined) this.db.prepare('DELETE FROM meta WHERE key = ?').run(name);
    return secrets[name];
  }

  private read(file: string): Partial<Record<LocalSecretName, string>> {
    if (!existsSync(file)) return {};
    chmodSync(file, 0o600);
    return JSON.parse(readFileSync(file, 'utf8')) as Partial<Record<LocalSecretName, string>>;
  }

  private write(file: string, secrets: Partial<Record<LocalSecretName, string>>): void {
    writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  }
}
