/** Polls `condition` until it returns a truthy value, or fails after `timeout` ms with `message`. */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  {
    timeout = 10_000,
    interval = 20,
    message = 'condition',
  }: { timeout?: number; interval?: number; message?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${timeout} ms waiting for ${message}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
