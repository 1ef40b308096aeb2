/**
 * Child-process helpers for the benchmarks: every bench and every server runs in its own Node process,
 * started through tsx, and every child started here is killed when this process exits (also on error).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const children = new Set<ChildProcess>();

function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
}

let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

/** The `--import` argument that makes a plain `node` run TypeScript through tsx (Node ≥ 20.6). */
function tsxImport(): string {
  try {
    return import.meta.resolve('tsx');
  } catch {
    return 'tsx';
  }
}

/** Node flags for a TypeScript child: tsx's ESM+CJS loader, plus the given extra flags (e.g. --expose-gc). */
export function tsxExecArgv(extra: string[] = []): string[] {
  return [...extra, '--import', tsxImport()];
}

/** Path of a file next to the calling module (pass `import.meta.url`). */
export const here = (base: string, relative: string) => fileURLToPath(new URL(relative, base));

export interface ForkOptions {
  args?: string[];
  /** Extra Node flags, e.g. ['--expose-gc']. */
  flags?: string[];
  /** 'inherit' shows the child's output; 'ignore' hides it. @default 'inherit' */
  stdio?: 'inherit' | 'ignore';
}

/** Forks a TypeScript file with an IPC channel; it is killed when this process exits. */
export function forkTs(file: string, options: ForkOptions = {}): ChildProcess {
  hookExit();
  const out = options.stdio ?? 'inherit';
  const child = fork(file, options.args ?? [], {
    execArgv: tsxExecArgv(options.flags ?? []),
    stdio: [out === 'inherit' ? 'inherit' : 'ignore', out, 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Waits for the first IPC message that satisfies `match`; rejects if the child exits first or on timeout. */
export function nextMessage<T>(child: ChildProcess, match: (message: unknown) => message is T, timeoutMs = 60_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (message: unknown) => {
      if (!match(message)) return;
      cleanup();
      resolve(message);
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`child ${child.pid} exited (code ${code}, signal ${signal}) before answering`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`child ${child.pid} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export const isType =
  <T extends { type: string }>(type: T['type']) =>
  (message: unknown): message is T =>
    typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;

/** Kills a child (SIGTERM, then SIGKILL after `graceMs`) and waits for it to exit. */
export function stopChild(child: ChildProcess, graceMs = 2_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Sends an IPC message to the parent, if there is one. */
export function toParent(message: unknown): void {
  process.send?.(message);
}

/** A bench's main: runs it, sends its result to the parent (run.ts) and exits 0; on an error, cleans up and exits 1. */
export async function runBenchMain<T>(bench: string, main: () => Promise<T>, cleanup: () => Promise<unknown>): Promise<never> {
  try {
    const result = await main();
    toParent({ type: 'result', bench, result });
    process.exit(0);
  } catch (error) {
    console.error(`${bench} bench failed:`, error);
    await cleanup();
    process.exit(1);
  }
}
