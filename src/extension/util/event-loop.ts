/** Cooperative scheduling for long-running methods and metrics. */
/**
 * Lets pending events run (a cancel request, a progress message) between batches: awaiting a
 * tensor's data on the cpu and wasm backends settles in a microtask, which never yields to them.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
