/**
 * Attack finding: forged console session cookies were not counted by the failed-authentication
 * throttle (issue 10 item 9). 150 forged `kg_session` cookies got 150 × 401 and never a 429,
 * while wrong master keys are blocked after KEYGATE_AUTH_FAILURE_POINTS: a cookie guesser had an
 * unthrottled credential check (a sha256 and a database read per guess). An unknown session
 * cookie now counts as a failure like a wrong Bearer credential.
 */
import { describe, expect, it } from 'vitest';
import { createTestAdmin } from '../../helpers/admin-harness.js';

describe('forged session cookies', () => {
  it('are counted by the failed-authentication throttle: 429 after the limit', async () => {
    const admin = createTestAdmin({
      KEYGATE_AUTH_FAILURE_POINTS: '5',
      KEYGATE_AUTH_FAILURE_WINDOW_SEC: '60',
      KEYGATE_AUTH_FAILURE_BLOCK_SEC: '120',
    });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const response = await admin.app.request('/v1/me', { headers: { cookie: `kg_session=forged-${i}` } });
      statuses.push(response.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    // The block applies to the address, also to a correct credential.
    expect((await admin.call('GET', '/v1/me')).status).toBe(429);
  });

  it('a request without any credential is not a failure (a first visit is not an attack)', async () => {
    const admin = createTestAdmin({ KEYGATE_AUTH_FAILURE_POINTS: '2' });
    for (let i = 0; i < 5; i++) expect((await admin.app.request('/v1/me')).status).toBe(401);
    expect((await admin.call('GET', '/v1/me')).status).toBe(200);
  });
});
