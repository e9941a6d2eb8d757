/**
 * Internal admin⇄gateway calls carry a short-lived HS256 JWT signed with KEYGATE_INTERNAL_SECRET
 * (API.md "Internal API"). jose lives here and in admin/auth only.
 */
import { SignJWT, jwtVerify } from 'jose';

const AUDIENCE = 'keygate-internal';
const TTL_SECONDS = 60;
/** Verified tokens remembered per receiver (one per sending process is in use at a time). */
const VERIFIED_MEMO_SIZE = 16;

export class InternalTokens {
  private readonly key: Uint8Array;
  private cached: { token: string; refreshAt: number } | undefined;
  /**
   * Tokens this instance has verified → their expiry (epoch ms). A sender reuses one token for
   * half its lifetime, so most calls present a token already verified: accepting it again
   * without jose (WebCrypto HMAC runs on the libuv thread pool, one event-loop round trip
   * per call on a busy gateway) is the same answer, sooner. Only exact strings that passed the
   * full check are remembered, and only until their `exp`.
   */
  private readonly verified = new Map<string, number>();

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
    const token = authorization.slice(7);
    const known = this.verified.get(token);
    if (known !== undefined) {
      if (Date.now() < known) return true;
      this.verified.delete(token);
    }
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        audience: AUDIENCE,
        requiredClaims: ['exp'],
      });
      this.remember(token, payload.exp! * 1000);
      return true;
    } catch {
      return false;
    }
  }

  private remember(token: string, expiresAt: number): void {
    if (this.verified.size >= VERIFIED_MEMO_SIZE) {
      const now = Date.now();
      for (const [known, until] of this.verified) if (until <= now) this.verified.delete(known);
      if (this.verified.size >= VERIFIED_MEMO_SIZE) this.verified.delete(this.verified.keys().next().value!);
    }
    this.verified.set(token, expiresAt);
  }
}
