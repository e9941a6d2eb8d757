import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/config.js';
import { parseRedisUrl } from '../../../src/config/redis-url.js';

describe('REDIS_URL forms', () => {
  it('one redis:// or rediss:// URL is a single server', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379')).toEqual({
      mode: 'single',
      url: 'redis://127.0.0.1:6379',
    });
    expect(parseRedisUrl('rediss://u:p@cache.example:6380/2')).toEqual({
      mode: 'single',
      url: 'rediss://u:p@cache.example:6380/2',
    });
  });

  it('a comma-separated list of redis:// URLs is a cluster, credentials from the first', () => {
    expect(parseRedisUrl('redis://:s3cret@10.0.0.1:7000, redis://10.0.0.2:7001,redis://10.0.0.3')).toEqual({
      mode: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '10.0.0.3', port: 6379 },
      ],
      username: undefined,
      password: 's3cret',
      tls: false,
    });
  });

  it('redis+cluster:// takes bare host:port seeds after the first, rediss+cluster:// means TLS', () => {
    expect(parseRedisUrl('redis+cluster://a:7000,b:7001')).toMatchObject({
      mode: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
      ],
      tls: false,
    });
    expect(parseRedisUrl('rediss+cluster://user:pw@a:7000')).toMatchObject({
      mode: 'cluster',
      nodes: [{ host: 'a', port: 7000 }],
      username: 'user',
      password: 'pw',
      tls: true,
    });
  });

  it('anything else is a configuration problem naming REDIS_URL', () => {
    for (const bad of ['http://redis', 'localhost:6379', 'redis://a:1,http://b:2', ',']) {
      expect(parseRedisUrl(bad)).toHaveProperty('problem', expect.stringContaining('REDIS_URL'));
    }
  });

  it('loadConfig exposes the parsed target', () => {
    expect(loadConfig({ REDIS_URL: 'redis+cluster://a:1,b:2' }).redis).toMatchObject({ mode: 'cluster' });
    expect(loadConfig({}).redis).toBeUndefined();
  });
});

describe('KEYGATE_GATEWAY_WORKERS', () => {
  it('defaults to one worker', () => {
    expect(loadConfig({}).gatewayWorkers).toBe(1);
  });

  it('more than one worker without REDIS_URL stops the start with the documented message', () => {
    expect(() => loadConfig({ KEYGATE_GATEWAY_WORKERS: '2' })).toThrow(ConfigError);
    expect(() => loadConfig({ KEYGATE_GATEWAY_WORKERS: '2' })).toThrow(
      'KEYGATE_GATEWAY_WORKERS=2 needs REDIS_URL',
    );
    expect(
      loadConfig({ KEYGATE_GATEWAY_WORKERS: '2', REDIS_URL: 'redis://127.0.0.1:6379' }).gatewayWorkers,
    ).toBe(2);
  });
});
