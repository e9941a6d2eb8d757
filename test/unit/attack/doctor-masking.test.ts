/**
 * Attack finding: `keygate doctor` printed the Redis password in clear for a cluster REDIS_URL
 * (a comma-separated list, or `redis+cluster://user:pw@a:1,b:2`), both in the configuration list
 * and in the Redis check line, and the credentials of every comma-separated URL list
 * (KEYGATE_GATEWAY_URLS with two entries): `new URL()` of the whole value threw, so nothing was
 * masked. Every entry of a list loses its password now.
 */
import { describe, expect, it } from 'vitest';
import { effectiveConfig, maskValue } from '../../../bin/doctor-checks.js';

describe('keygate doctor masks passwords in URL lists', () => {
  it.each([
    ['REDIS_URL', 'redis://:pw1@127.0.0.1:6379,redis://:pw2@127.0.0.1:6380'],
    ['REDIS_URL', 'redis+cluster://default:pw1@a:6379,b:6380'],
    ['REDIS_URL', 'rediss+cluster://:pw1@a:6379'],
    ['REDIS_URL', 'redis://user:pw1@cache:6379/0'],
    ['KEYGATE_GATEWAY_URLS', 'http://u:pw1@gw1:4000,http://u:pw2@gw2:4000'],
  ])('%s=%s', (name, value) => {
    const shown = maskValue(name, value);
    expect(shown).not.toMatch(/pw\d/);
    expect(shown).toContain('****');
    expect(effectiveConfig({ [name]: value }).join('\n')).not.toMatch(/pw\d/);
  });

  it('keeps values without credentials as they are', () => {
    expect(maskValue('REDIS_URL', 'redis://a:6379,redis://b:6380')).toBe('redis://a:6379,redis://b:6380');
    expect(maskValue('KEYGATE_GATEWAY_URLS', 'http://gw1:4000,http://gw2:4000')).toBe(
      'http://gw1:4000,http://gw2:4000',
    );
  });
});
