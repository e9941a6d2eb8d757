import { afterEach, describe, expect, it, vi } from 'vitest';
import { InternalTokens } from '../../../src/invalidation/internal-token.js';

const SECRET = 'internal-secret-for-tests-0123456789';

describe('InternalTokens.verify', () => {
  afterEach(() => vi.useRealTimers());

  it('a remembered token is refused once its exp has passed, like a fresh check', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.UTC(2026, 0, 1, 12);
    vi.setSystemTime(start);
    const sender = new InternalTokens(SECRET);
    const receiver = new InternalTokens(SECRET);
    const header = await sender.authorizationHeader();
    expect(await receiver.verify(header)).toBe(true);
    vi.setSystemTime(start + 59_000);
    expect(await receiver.verify(header)).toBe(true);
    vi.setSystemTime(start + 60_000); // exp = iat + 60 s
    expect(await receiver.verify(header)).toBe(false);
    vi.setSystemTime(start + 1_000); // forgotten once expired: the full check runs again
    expect(await receiver.verify(header)).toBe(true);
  });

  it('a token already verified is accepted again within the same event-loop turn (no crypto round trip)', async () => {
    const receiver = new InternalTokens(SECRET);
    const header = await new InternalTokens(SECRET).authorizationHeader();
    const nextTurn = () => new Promise<string>((resolve) => setImmediate(() => resolve('next turn')));
    // The first check runs the HS256 verification (WebCrypto, usually resolved on a later turn;
    // not asserted, it depends on the machine); the remembered token answers without it.
    expect(await receiver.verify(header)).toBe(true);
    expect(await Promise.race([receiver.verify(header).then(() => 'verified'), nextTurn()])).toBe('verified');
  });

  it('remembering a valid token never lets a forged or altered one through', async () => {
    const receiver = new InternalTokens(SECRET);
    const header = await new InternalTokens(SECRET).authorizationHeader();
    expect(await receiver.verify(header)).toBe(true);
    const forged = await new InternalTokens('another-secret-0123456789abcdef').authorizationHeader();
    expect(await receiver.verify(forged)).toBe(false);
    expect(await receiver.verify(`${header.slice(0, -2)}xx`)).toBe(false);
    expect(await receiver.verify(header.replace('Bearer ', 'Basic '))).toBe(false);
    expect(await receiver.verify(undefined)).toBe(false);
    expect(await receiver.verify(header)).toBe(true);
  });

  it('many senders: the memo stays bounded and every sender is still accepted', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.UTC(2026, 0, 1, 12);
    const receiver = new InternalTokens(SECRET);
    const headers: string[] = [];
    for (let i = 0; i < 40; i++) {
      vi.setSystemTime(start + i * 1000); // a different iat, so a different token
      headers.push(await new InternalTokens(SECRET).authorizationHeader());
    }
    for (const header of headers) expect(await receiver.verify(header)).toBe(true);
    for (const header of headers.slice(-20)) expect(await receiver.verify(header)).toBe(true);
  });
});
