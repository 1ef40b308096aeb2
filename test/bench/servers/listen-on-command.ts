/**
 * `--listen-on-command` for the bench servers that the peers bench restarts (plain-server.ts,
 * socketio-server.ts): the replacement server is forked, loaded and ready BEFORE the old one is killed, and
 * binds only when told, at a wall-clock time the bench chooses. The outage each client library sees is then
 * a fixed downtime (kill → listening), not however long a new tsx process takes to start.
 *
 *   ← { type: 'ready' }                     loaded, not listening
 *   → { type: 'listen', at }                bind at Date.now() ≥ at (then the server sends its `listening`)
 */

export const listenOnCommand = process.argv.includes('--listen-on-command');

/** Sends `ready` and resolves with the `at` of the bench's `listen` command. */
export function listenCommand(): Promise<number> {
  return new Promise((resolve) => {
    const onMessage = (message: { type?: string; at?: number }) => {
      if (message?.type !== 'listen') return;
      process.off('message', onMessage);
      resolve(message.at ?? Date.now());
    };
    process.on('message', onMessage);
    process.send?.({ type: 'ready' });
  });
}

/** Resolves at Date.now() ≥ at: a timer to about 2 ms before, then a few short ones. */
export async function untilWallClock(at: number): Promise<void> {
  if (at - Date.now() > 2) await new Promise((resolve) => setTimeout(resolve, at - Date.now() - 2));
  while (Date.now() < at) await new Promise((resolve) => setImmediate(resolve));
}

/** Binds, retrying every 5 ms for up to 2 s while the port is still held (the killed server's listener not yet released). */
export async function bindRetrying<T>(bind: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await bind();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 400) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}
