/**
 * Which environment variables may hold a provider credential (issue 10 item 3). A target's
 * `upstream.api_key_env` names one; the gateway sends its value as `Authorization: Bearer` to the
 * target's base URL, so only variables meant for that are allowed: names starting with
 * `KEYGATE_PROVIDER_ENV_PREFIX` (default `KEYGATE_PROVIDER_KEY_`) or listed in
 * `KEYGATE_PROVIDER_ENV_ALLOWLIST`. keygate's own settings (`KEYGATE_MASTER_KEY`, secrets, ...) never
 * qualify, whatever the configuration. The admin plane refuses other names with 400; the gateway
 * resolves nothing for them.
 */
import { CONFIG_VARIABLES, type Config } from '../config/config.js';

export type ProviderEnvPolicy = Pick<Config, 'providerEnvPrefix' | 'providerEnvAllowlist'>;

const OWN_SETTINGS: ReadonlySet<string> = new Set(Object.keys(CONFIG_VARIABLES));

export function isProviderEnvAllowed(name: string, policy: ProviderEnvPolicy): boolean {
  if (OWN_SETTINGS.has(name)) return false;
  if (name.startsWith('KEYGATE_') && !name.startsWith(policy.providerEnvPrefix)) return false;
  return name.startsWith(policy.providerEnvPrefix) || policy.providerEnvAllowlist.includes(name);
}

/** The gateway's credential resolver: the variable's value when its name is allowed, else undefined. */
export function providerCredentials(
  env: Readonly<Record<string, string | undefined>>,
  policy: ProviderEnvPolicy,
): (name: string) => string | undefined {
  return (name) => (isProviderEnvAllowed(name, policy) ? env[name] : undefined);
}
