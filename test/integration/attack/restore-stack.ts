/**
 * An admin plane on a database file that the test backs up and later restores, a mock upstream,
 * and room for a gateway that keeps running across the restore (admin-restore-feed,
 * admin-restore-overtaken and admin-restore-spend). The admin plane restarts on the same port, so calls use a fresh
 * connection each time.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Agent, fetch as undiciFetch } from 'undici';
import { expect } from 'vitest';
import { startAdmin, type RunningAdmin } from '../../../admin/main.js';
import { startMockUpstream, type MockUpstream } from '../../../bench/mock-upstream.js';
import { startGateway } from '../../../gateway/main.js';
import { loadConfig } from '../../../src/config/config.js';
import { retryIfPortTaken } from '../../helpers/free-ports.js';
import { freePort } from '../../helpers/processes.js';

export const RESTORE_SECRET = 'admin-restore-internal-secret-0123456789';
const MASTER = 'admin-restore-master-key-0123456789';

export class RestoreStack {
  readonly dbPath: string;
  /** Known to the admin plane (KEYGATE_GATEWAY_URLS) before the gateway starts there. */
  readonly gatewayPort: number;
  private readonly backupPath: string;
  readonly logger = pino({ level: 'silent' });
  admin!: RunningAdmin;
  gateway: Awaited<ReturnType<typeof startGateway>> | undefined;

  private constructor(
    readonly dir: string,
    readonly adminPort: number,
    /** Held by a listener of this stack until `releaseGatewayPort` (the gateway starts later). */
    private readonly gatewayHold: Server,
    readonly mock: MockUpstream,
  ) {
    this.gatewayPort = (gatewayHold.address() as AddressInfo).port;
    this.dbPath = join(dir, 'keygate.db');
    this.backupPath = join(dir, 'backup.db');
  }

  /** On free ports; again on new ones if the admin plane's was taken before it bound it. */
  static start(prefix: string): Promise<RestoreStack> {
    return retryIfPortTaken(async () => {
      const stack = new RestoreStack(
        mkdtempSync(join(tmpdir(), prefix)),
        await freePort(),
        await holdPort(),
        await startMockUpstream(),
      );
      try {
        await stack.startAdmin();
      } catch (error) {
        await stack.releaseGatewayPort();
        await stack.mock.close();
        rmSync(stack.dir, { recursive: true, force: true });
        throw error;
      }
      return stack;
    });
  }

  /**
   * Frees the gateway's port: call it right before starting the gateway there. Until then no
   * other test file can take it (a port from freePort() stayed free only by luck for the seconds
   * between the stack's start and the gateway's).
   */
  releaseGatewayPort(): Promise<void> {
    if (!this.gatewayHold.listening) return Promise.resolve();
    return new Promise((resolve) => this.gatewayHold.close(() => resolve()));
  }

  /** The gateway on its port (released first), following the admin plane; `env` adds to its config. */
  async startGateway(env: Record<string, string> = {}): Promise<void> {
    await this.releaseGatewayPort();
    this.gateway = await startGateway(
      loadConfig({
        KEYGATE_GATEWAY_PORT: String(this.gatewayPort),
        KEYGATE_ADMIN_URL: this.admin.url,
        KEYGATE_INTERNAL_SECRET: RESTORE_SECRET,
        KEYGATE_SPOOL_DIR: join(this.dir, 'spool'),
        KEYGATE_LOG_LEVEL: 'silent',
        ...env,
      }),
      { logger: this.logger },
    );
  }

  /** `GET /v1/models` at the gateway's port with `key`. */
  models(key: string): Promise<Response> {
    return fetch(`http://127.0.0.1:${this.gatewayPort}/v1/models`, {
      headers: { authorization: `Bearer ${key}` },
    });
  }

  /**
   * On its port, pushing to the gateway; `aside`: on a port the OS picks and without pushes, so
   * the gateway hears nothing of the changes made there (its pulls meanwhile fail).
   */
  async startAdmin(options: { aside?: boolean } = {}): Promise<void> {
    this.admin = await startAdmin(
      loadConfig({
        KEYGATE_DB_PATH: this.dbPath,
        KEYGATE_ADMIN_PORT: options.aside === true ? '0' : String(this.adminPort),
        KEYGATE_MASTER_KEY: MASTER,
        KEYGATE_INTERNAL_SECRET: RESTORE_SECRET,
        ...(options.aside === true ? {} : { KEYGATE_GATEWAY_URLS: `http://127.0.0.1:${this.gatewayPort}` }),
        KEYGATE_LOG_LEVEL: 'silent',
      }),
      { logger: this.logger },
    );
  }

  /** Stops the admin plane, copies its database file, starts it again. */
  async backUp(): Promise<void> {
    await this.admin.close();
    copyFileSync(this.dbPath, this.backupPath);
    await this.startAdmin();
  }

  /** Stops the admin plane and puts the backup in place of its database (not started again). */
  async putBackupInPlace(): Promise<void> {
    await this.admin.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${this.dbPath}${suffix}`, { force: true });
    copyFileSync(this.backupPath, this.dbPath);
  }

  /** An admin API call with the master key; expects a 2xx and returns the JSON body. */
  async call(method: string, path: string, body?: unknown): Promise<Record<string, any>> {
    const res = await undiciFetch(`${this.admin.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      dispatcher: new Agent({ pipelining: 0 }),
    });
    expect(res.status).toBeLessThan(300);
    return (await res.json()) as Record<string, any>;
  }

  async close(): Promise<void> {
    await this.releaseGatewayPort();
    await this.gateway?.close();
    await this.admin?.close();
    await this.mock.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A listener on a port the OS chose, holding it for the stack. */
async function holdPort(): Promise<Server> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return server;
}
