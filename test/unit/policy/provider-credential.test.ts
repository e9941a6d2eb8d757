/** The gateway's credential resolver (gateway/main.ts `credential:`) never reads keygate's secrets. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/config.js';
import { providerCredentials } from '../../../src/policy/provider-credential.js';

const env = {
  KEYGATE_MASTER_KEY: 'master-secret-0123456789',
  KEYGATE_INTERNAL_SECRET: 'internal',
  KEYGATE_JWT_SECRET: 'jwt',
  PATH: '/usr/bin',
  KEYGATE_PROVIDER_KEY_OPENAI: 'sk-openai',
  OPENAI_API_KEY: 'sk-listed',
  OTHER: 'x',
};

describe('providerCredentials', () => {
  it('resolves only prefixed or allow-listed names', () => {
    const resolve = providerCredentials(
      env,
      loadConfig({ KEYGATE_PROVIDER_ENV_ALLOWLIST: 'OPENAI_API_KEY' }),
    );
    expect(resolve('KEYGATE_PROVIDER_KEY_OPENAI')).toBe('sk-openai');
    expect(resolve('OPENAI_API_KEY')).toBe('sk-listed');
    for (const name of [
      'KEYGATE_MASTER_KEY',
      'KEYGATE_INTERNAL_SECRET',
      'KEYGATE_JWT_SECRET',
      'PATH',
      'OTHER',
    ]) {
      expect(resolve(name), name).toBeUndefined();
    }
  });

  it("refuses a configuration that would allow keygate's own settings", () => {
    expect(() => loadConfig({ KEYGATE_PROVIDER_ENV_ALLOWLIST: 'KEYGATE_MASTER_KEY' })).toThrow(ConfigError);
    expect(() => loadConfig({ KEYGATE_PROVIDER_ENV_PREFIX: 'KEYGATE_' })).toThrow(ConfigError);
  });
});
