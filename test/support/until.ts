/** Polls `condition` every 5 ms until it holds; fails after `ms` naming `what`. */
export async function until(condition: () => boolean, ms = 8_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
