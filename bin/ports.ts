/**
 * Busy ports are found before anything starts: `keygate start` and `keygate demo` bind each
 * listen address for a moment and refuse, with the variable to change, when another process
 * (often another keygate) already holds it. Otherwise the wrapper could see that other process
 * answer its health check and say "running" while its own child fails with EADDRINUSE.
 */
import { createServer } from 'node:net';

export interface ListenAddress {
  /** What listens there, for the message ("gateway"). */
  name: string;
  host: string;
  port: number;
  /** The variable that sets the port. */
  variable: string;
}

export class PortInUseError extends Error {
  override name = 'PortInUseError';
}

function tryListen(host: string, port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** Throws PortInUseError naming every address that cannot be listened on. */
export async function ensurePortsFree(addresses: readonly ListenAddress[]): Promise<void> {
  const problems: string[] = [];
  for (const address of addresses) {
    if (address.port === 0) continue;
    const error = await tryListen(address.host, address.port);
    if (error === undefined) continue;
    const why =
      error.code === 'EADDRINUSE'
        ? 'is already in use (another keygate still running?)'
        : `cannot be listened on (${error.code ?? error.message})`;
    problems.push(
      `${address.name}: ${address.host}:${address.port} ${why}; stop that process or set ${address.variable} to a free port`,
    );
  }
  if (problems.length > 0) throw new PortInUseError(problems.join('\n  '));
}
