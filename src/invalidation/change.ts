/**
 * One change-log entry as carried by pushes (`POST /internal/invalidate`) and the change feed
 * (`GET /internal/changes?after=`). Gateways apply them in `seq` order.
 */
export type ChangeEntity = 'key' | 'team' | 'org' | 'target' | 'access_group' | 'user';

export interface Change {
  seq: number;
  at: number;
  entityType: ChangeEntity;
  entityId: string;
  /** For key changes: every token hash the key answered to before and after the change. */
  tokenHashes: string[];
}

/** Body of a push and of a feed page. */
export interface ChangeBatch {
  /** The highest seq in `changes` (or the feed head when `changes` is empty). */
  seq: number;
  changes: Change[];
}

/** A page of the change feed (`GET /internal/changes?after=`). */
export interface ChangePage extends ChangeBatch {
  /**
   * The last change of the log at or below `after` (the one at `after` itself unless the log
   * ends below it), null when the log holds none. Two logs that hold different changes at one
   * seq (a database restored from a backup and written again) answer with different ones.
   * Absent from an admin plane older than this field.
   */
  previous?: Change | null;
}

/**
 * The same change of the same log: a change log restored from a backup numbers its new changes
 * from the backup's head, so one seq can name two changes; their time (`at`, ms) tells them
 * apart, the rest guards against two made in the same millisecond.
 */
export function sameChange(a: Change | null, b: Change | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.seq === b.seq &&
    a.at === b.at &&
    a.entityType === b.entityType &&
    a.entityId === b.entityId &&
    a.tokenHashes.length === b.tokenHashes.length &&
    a.tokenHashes.every((hash, i) => hash === b.tokenHashes[i])
  );
}
