/**
 * Pushes committed change-log rows to every configured gateway (`POST /internal/invalidate`),
 * in seq order per gateway, without ever blocking an admin response. A lost push is not
 * retried here: gateways pull the change feed every second and repair the gap themselves.
 */
import type { Logger } from 'pino';
import type { Change, ChangeBatch, ChangeEntity } from '../../src/invalidation/change.js';
import type { InternalTokens } from '../../src/invalidation/internal-token.js';
import type { Database } from '../../src/storage/database.js';
import type { ChangeNotifier } from '../context.js';

const PUSH_TIMEOUT_MS = 2000;

interface ChangeRow {
  seq: number;
  at: number;
  entity_type: ChangeEntity;
  entity_id: string;
  token_hashes: string;
}

export function changeFromRow(row: ChangeRow): Change {
  return {
    seq: row.seq,
    at: row.at,
    entityType: row.entity_type,
    entityId: row.entity_id,
    tokenHashes: JSON.parse(row.token_hashes) as string[],
  };
}

export function readChanges(db: Database, after: number, limit: number): Change[] {
  const rows = db
    .prepare('SELECT * FROM change_log WHERE seq > ? ORDER BY seq LIMIT ?')
    .all(after, limit) as ChangeRow[];
  return rows.map(changeFromRow);
}

export class HttpChangePusher implements ChangeNotifier {
  private lastRead: number;
  private readonly queues = new Map<string, Promise<void>>();
  private scheduled = false;

  constructor(
    private readonly db: Database,
    private readonly gatewayUrls: readonly string[],
    private readonly tokens: InternalTokens,
    private readonly logger: Logger,
  ) {
    const row = db.prepare('SELECT IFNULL(MAX(seq), 0) AS head FROM change_log').get() as { head: number };
    this.lastRead = row.head;
  }

  notify(): void {
    if (this.gatewayUrls.length === 0 || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pushNew();
    });
  }

  private pushNew(): void {
    const changes = readChanges(this.db, this.lastRead, 10_000);
    const last = changes[changes.length - 1];
    if (last === undefined) return;
    this.lastRead = last.seq;
    const batch: ChangeBatch = { seq: last.seq, changes };
    for (const url of this.gatewayUrls) {
      const previous = this.queues.get(url) ?? Promise.resolve();
      const next = previous.then(() => this.send(url, batch));
      this.queues.set(url, next);
    }
  }

  private async send(url: string, batch: ChangeBatch): Promise<void> {
    try {
      const response = await fetch(`${url}/internal/invalidate`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: await this.tokens.authorizationHeader(),
        },
        body: JSON.stringify(batch),
        signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
      });
      await response.arrayBuffer();
      if (!response.ok)
        this.logger.warn({ url, status: response.status, seq: batch.seq }, 'invalidation push refused');
    } catch (error) {
      this.logger.warn(
        { url, seq: batch.seq, err: (error as Error).message },
        'invalidation push failed; the gateway will pull',
      );
    }
  }

  /** Waits for in-flight pushes (graceful stop). */
  async drain(): Promise<void> {
    await Promise.all(this.queues.values());
  }
}
