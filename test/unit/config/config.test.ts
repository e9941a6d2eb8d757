import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/config.js';

describe('config loader', () => {
  it('applies the documented defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config.dbPath).toBe('./data/keygate.db');
    expect(config.dbCacheMb).toBe(64);
    expect(config.adminPort).toBe(4100);
    expect(config.gatewayPort).toBe(4000);
    expect(config.adminUrl).toBe('http://127.0.0.1:4100');
    expect(config.resyncIntervalMs).toBe(500);
    expect(config.usageFlushMs).toBe(1000);
    expect(config.cacheMaxKeys).toBe(100_000);
    expect(config.redisPrefix).toBe('keygate:');
    expect(config.budgetFailOpen).toBe(false);
    expect(config.logLevel).toBe('info');
    expect(config.gatewayUrls).toBeUndefined();
    expect(config.masterKey).toBeUndefined();
  });

  it('returns a frozen object', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reports every problem at once', () => {
    let caught: unknown;
    try {
      loadConfig({
        KEYGATE_ADMIN_PORT: 'eighty',
        KEYGATE_GATEWAY_PORT: '70000',
        KEYGATE_ADMIN_URL: 'ftp://x',
        KEYGATE_LOG_LEVEL: 'loud',
        KEYGATE_BUDGET_FAIL_OPEN: 'maybe',
        REDIS_URL: 'http://redis',
        KEYGATE_MASTER_KEY: 'short',
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems.join('\n');
    for (const name of [
      'KEYGATE_ADMIN_PORT',
      'KEYGATE_GATEWAY_PORT',
      'KEYGATE_ADMIN_URL',
      'KEYGATE_LOG_LEVEL',
      'KEYGATE_BUDGET_FAIL_OPEN',
      'REDIS_URL',
      'KEYGATE_MASTER_KEY',
    ]) {
      expect(problems).toContain(name);
    }
  });

  it.each(['-1', 'abc', '1e9', '0x10', ' 5', '1.5', '100000001'])(
    'KEYGATE_PRELOAD_KEYS=%j stops the start with a problem naming it (0 and 100,000,000 are taken)',
    (value) => {
      expect(() => loadConfig({ KEYGATE_PRELOAD_KEYS: value })).toThrow(
        /KEYGATE_PRELOAD_KEYS must be an integer between 0 and 100000000/,
      );
      expect(loadConfig({ KEYGATE_PRELOAD_KEYS: '0' }).preloadKeys).toBe(0);
      expect(loadConfig({ KEYGATE_PRELOAD_KEYS: '100000000' }).preloadKeys).toBe(100_000_000);
    },
  );

  it('parses the gateway push list, and an empty value means push to nobody', () => {
    expect(loadConfig({ KEYGATE_GATEWAY_URLS: 'http://a:1, http://b:2/' }).gatewayUrls).toEqual([
      'http://a:1',
      'http://b:2',
    ]);
    expect(loadConfig({ KEYGATE_GATEWAY_URLS: '' }).gatewayUrls).toEqual([]);
  });
});
