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
