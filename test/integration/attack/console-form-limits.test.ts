/**
 * Attack findings on the console's form routes (no sign-in needed):
 * - No body limit: `/sign-in`, `/sign-out` and `/set-password/:token` parsed bodies of any size
 *   (KEYGATE_ADMIN_MAX_BODY_BYTES covered /v1 only): one anonymous 150 MB POST /sign-in took
 *   the admin plane from 87 MB to 526 MB RSS. They now answer 413 request_too_large above it.
 * - `content-type: multipart/form-data` without a boundary → 500 internal_error (the form parser
 *   threw). An unreadable form is now just a form without fields (403, the form again).
 */
import { describe, expect, it } from 'vitest';
import { createTestAdmin } from '../../helpers/admin-harness.js';

const ROUTES = ['/sign-in', '/sign-out', '/set-password/some-token'];

describe('console form routes', () => {
  it.each(ROUTES)('%s refuses a body over KEYGATE_ADMIN_MAX_BODY_BYTES with 413', async (path) => {
    const admin = createTestAdmin({ KEYGATE_ADMIN_MAX_BODY_BYTES: '4096' });
    const response = await admin.app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `csrf=x&password=${'a'.repeat(100_000)}`,
    });
    expect(response.status).toBe(413);
  });

  it.each(ROUTES)('%s answers an unreadable form without a 5xx', async (path) => {
    const admin = createTestAdmin();
    for (const contentType of ['multipart/form-data', 'multipart/form-data; boundary=']) {
      const response = await admin.app.request(path, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: '--zz\r\nContent-Disposition: form-data; name="csrf"\r\n\r\nx\r\n--zz--\r\n',
      });
      expect(response.status, contentType).toBeLessThan(500);
    }
  });

  it('a form of ordinary size still works (sign-in page answers 403 for a wrong CSRF value)', async () => {
    const admin = createTestAdmin({ KEYGATE_ADMIN_MAX_BODY_BYTES: '4096' });
    const response = await admin.app.request('/sign-in', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'csrf=x&method=password&email=a%40b.c&password=whatever',
    });
    expect(response.status).toBe(403);
  });
});
