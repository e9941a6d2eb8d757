/**
 * A value a store may answer synchronously (the memory stores do, so an in-process decision
 * never yields to the event loop) or as a promise (Redis).
 */
export type MaybePromise<T> = T | Promise<T>;

export function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
