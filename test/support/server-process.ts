import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A server node running in a child process: a crash there is an exit, not a failure of the spec's own process. */
export interface NodeProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Exit code or signal once the process has exited; undefined while it runs. */
  exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Everything the process wrote to stderr. */
  stderr(): string;
  /** Sends a request over IPC and resolves with the answer carrying the same id. */
  request<T = Record<string, unknown>>(message: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  kill(): Promise<void>;
}

/** The reference server in a process of its own (in-memory backend), as the specs and the fuzz script run it. */
export const MEMORY_NODE = fileURLToPath(new URL('../integration/server/fixtures/memory-node.ts', import.meta.url));

/** Spawns a server script with tsx and resolves once it prints `READY <port>`. */
export function spawnNode(fixture: string, env: Record<string, string> = {}, extraArgs: readonly string[] = []): Promise<NodeProcess> {
  const name = fixture.slice(fixture.lastIndexOf('/') + 1);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...extraArgs, '--import', 'tsx', fixture], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let nextId = 0;
    const answers = new Map<number, (answer: Record<string, unknown>) => void>();
    child.on('message', (answer: { id?: number }) => {
      if (typeof answer.id === 'number') answers.get(answer.id)?.(answer as Record<string, unknown>);
    });
    let stdout = '';
    let stderr = '';
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${name} did not start within 15 s: ${stderr.slice(-500)}`));
    }, 15_000);
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      clearTimeout(timer);
      reject(new Error(`node ${name} exited with ${code ?? signal}: ${stderr.slice(-500)}`));
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /READY (\d+)/.exec(stdout);
      if (!match) return;
      clearTimeout(timer);
      resolve({
        url: `ws://127.0.0.1:${match[1]}/`,
        child,
        exit: () => exited,
        stderr: () => stderr,
        request: <T,>(message: Record<string, unknown>, timeoutMs = 15_000) =>
          new Promise<T>((settle, fail) => {
            const id = ++nextId;
            const timer = setTimeout(() => {
              answers.delete(id);
              fail(new Error(`no answer to ${JSON.stringify(message).slice(0, 80)} within ${timeoutMs} ms`));
            }, timeoutMs);
            answers.set(id, (answer) => {
              clearTimeout(timer);
              answers.delete(id);
              if (typeof answer.error === 'string') fail(new Error(answer.error));
              else settle(answer as T);
            });
            child.send({ ...message, id });
          }),
        kill: () =>
          new Promise<void>((done) => {
            if (exited) return done();
            child.once('exit', () => done());
            child.kill('SIGKILL');
          }),
      });
    });
  });
}
