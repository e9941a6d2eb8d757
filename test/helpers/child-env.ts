/**
 * The environment for a child process of a test: this process's, minus Redis mode (CI exports
 * REDIS_URL for the Redis suites), plus `extra`. A stack that is not about Redis must not join the
 * shared Redis's default channel and keys, where concurrent stacks would hear each other's change
 * batches; Redis suites pass REDIS_URL and a prefix of their own explicitly.
 */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.REDIS_URL;
  delete env.KEYGATE_REDIS_PREFIX;
  return { ...env, ...extra };
}
