/**
 * Internal admin⇄gateway calls carry a short-lived HS256 JWT signed with KEYGATE_INTERNAL_SECRET
 * (API.md "Internal API"). jose lives here and in admin/auth only.
 */
import { SignJWT, jwtVerify } from 'jose';

const AUDIENCE = 'keygate-internal';
const TTL_SECONDS = 60;

export class InternalTokens {
  private readonly key: Uint8Array;
  private cached: { token: string; refreshAt: number } | undefined;

  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
  }

  /** A token for outgoing calls, reused until half its lifetime has passed. */
  async token(nowMs: number = Date.now()): Promise<string> {
    if (this.cached !== undefined && nowMs < this.cached.refreshAt) return this.cached.token;
    const issuedAt = Math.floor(nowMs / 1000);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience(AUDIENCE)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + TTL_SECONDS)
      .sign(this.key);
    this.cached = { token, refreshAt: nowMs + (TTL_SECONDS * 1000) / 2 };
    return token;
  }

  async authorizationHeader(): Promise<string> {
    return `Bearer ${await this.token()}`;
  }

  /** True when the Authorization header carries a valid, unexpired internal token. */
  async verify(authorization: string | undefined): Promise<boolean> {
    if (authorization === undefined || !authorization.startsWith('Bearer ')) return false;
    try {
      await jwtVerify(authorization.slice(7), this.key, {
        algorithms: ['HS256'],
        audience: AUDIENCE,
        requiredClaims: ['exp'],
      });
      return true;
    } catch {
      return false;
    }
  }
}
