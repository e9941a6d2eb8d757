/**
 * The one polling helper of the tests: resolves once `check` holds (returns true, or an async
 * check resolves true), rejects with `what` after `timeoutMs`. For conditions another process or
 * the event loop brings about; a test that can move a ManualClock instead should do that.
 */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<void> {
  const { timeoutMs = 2000, intervalMs = 5, what = 'condition' } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let ok = false;
    let failure: unknown;
    try {
      ok = await check();
    } catch (error) {
      failure = error;
    }
    if (ok) return;
    if (Date.now() > deadline) {
      const reason = failure instanceof Error ? `: ${failure.message}` : '';
      throw new Error(`${what} not reached within ${timeoutMs} ms${reason}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
