/**
 * `keygate doctor` prints the effective configuration for operators to paste into tickets, with
 * secrets masked. It masked the master key, the JWT secret and the internal secret, but printed
 * KEYGATE_METRICS_TOKEN (the bearer token of both planes' /metrics) and
 * KEYGATE_ALERT_WEBHOOK_SECRET (the HMAC key that authenticates soft-budget webhooks: with it
 * anyone can forge an alert) in clear. Every secret-bearing variable is masked now, and a new
 * variable named like a secret cannot be forgotten.
 */
import { describe, expect, it } from 'vitest';
import { effectiveConfig } from '../../../bin/doctor-checks.js';
import { CONFIG_VARIABLES } from '../../../src/config/config.js';

describe('keygate doctor never prints a secret', () => {
  it('masks the metrics token and the alert webhook secret', () => {
    const text = effectiveConfig({
      KEYGATE_METRICS_TOKEN: 'metrics-token-AAAAAAAAAAAAAAAA',
      KEYGATE_ALERT_WEBHOOK_SECRET: 'webhook-secret-BBBBBBBBBBBBBBBBBBBBBBBBBBBB',
    }).join('\n');
    expect(text).not.toContain('AAAAAAAA');
    expect(text).not.toContain('BBBBBBBB');
    expect(text).toMatch(/^KEYGATE_METRICS_TOKEN +metr… \(30 characters, masked\)$/m);
  });

  it('every variable named like a secret (SECRET, …_TOKEN, MASTER_KEY) is masked', () => {
    const names = Object.keys(CONFIG_VARIABLES).filter((name) => /SECRET|TOKEN$|MASTER_KEY/.test(name));
    expect(names.length).toBeGreaterThanOrEqual(5);
    const env = Object.fromEntries(names.map((name) => [name, `${name}-value-ZZZZZZZZZZZZZZZZ`]));
    const text = effectiveConfig(env).join('\n');
    expect(text).not.toContain('ZZZZZZZZ');
  });
});
