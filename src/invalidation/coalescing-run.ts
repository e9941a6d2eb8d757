/**
 * Runs an async task on demand, one run at a time, without losing a request: a trigger that
 * arrives while a run is in progress books exactly one more run right after it (however many
 * triggers arrived). The gateway's change-feed pull uses it: a timer tick that lands during a
 * slow pull must not be skipped (that would double the pull interval, and the running pull may
 * have read the feed before the change the tick is meant to catch).
 */
export function coalescingRun(
  task: () => Promise<void>,
  /** A failed run is reported here; the rerun booked meanwhile is dropped (the next trigger retries). */
  onError: (error: unknown) => void,
): () => Promise<void> {
  let current: Promise<void> | undefined;
  let again = false;
  const loop = async (): Promise<void> => {
    try {
      do {
        again = false;
        try {
          await task();
        } catch (error) {
          onError(error);
          again = false;
        }
      } while (again);
    } finally {
      current = undefined;
    }
  };
  return () => {
    if (current !== undefined) {
      again = true;
      return current;
    }
    current = loop();
    return current;
  };
}
