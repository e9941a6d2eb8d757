/**
 * freePort() (bench/processes.ts) closes its probe before the process under test binds the port,
 * so another test file running in parallel can take the port in between, and the start fails
 * with EADDRINUSE. `retryIfPortTaken` runs a start-up that chooses its own ports with
 * freePort() again when it failed that way: a new call, so new ports. The start-up must clean
 * up what it started when it throws (the stacks here do).
 */

/** The start-up failed because a port it chose was taken (the child's output or the bind error says so). */
export function portTaken(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  // `already in use`: the bind's message, and keygate start's own port check (bin/ports.ts).
  return code === 'EADDRINUSE' || /EADDRINUSE|already in use/i.test(message);
}

export async function retryIfPortTaken<T>(start: () => Promise<T>, attempts = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (attempt >= attempts || !portTaken(error)) throw error;
    }
  }
}
