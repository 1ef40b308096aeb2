import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The offline inspector running in a process of its own (`socketchart inspect`), as an app would use it. */
export interface InspectorProcess {
  url: string;
  wsUrl: string;
  /** Stops the process; resolves once it has exited. */
  close(): Promise<void>;
}

/** Flags that would make the child run something else (`-e`, `--print`, `--test`, `--watch`) or wait for a debugger: not inherited. */
const NOT_INHERITED = /^(-[ep]|--(eval|print|check|test|watch|inspect|debug)[a-z-]*)(=|$)/;
const TAKES_VALUE = /^(-[ep]|--(eval|print|inspect-port|debug-port))$/;

/** The Node flags a child inherits: the parent's, but those that would run something else or open a debugger of its own. */
export const inheritedFlags = (execArgv: readonly string[]): string[] =>
  execArgv.filter((arg, i) => !NOT_INHERITED.test(arg) && !TAKES_VALUE.test(execArgv[i - 1] ?? ''));

/**
 * Starts `socketchart inspect --port <port>` in a child process (so that the page's server never takes
 * CPU from the app it inspects) and resolves with its URLs once it listens; rejects if it exits first, with
 * the line it printed on why (naming `portFlag`, the starting command's flag, for a port it cannot use).
 */
export function startInspectorProcess(port: number, { portFlag, timeoutMs = 20_000 }: { portFlag?: string; timeoutMs?: number } = {}): Promise<InspectorProcess> {
  const main = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './main.ts' : './cli.js', import.meta.url));
  const fromSource = main.endsWith('.ts') && !process.execArgv.some((arg) => arg.includes('tsx'));
  const child = spawn(process.execPath, [...inheritedFlags(process.execArgv), ...(fromSource ? ['--import', 'tsx'] : []), main, 'inspect', '--port', String(port), '--exit-with-parent', ...(portFlag ? [`--port-flag=${portFlag}`] : [])], { stdio: 'pipe' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += String(chunk)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the inspector did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    const exitedEarly = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(err.trim().split('\n')[0] || `the inspector exited with code ${code} before listening`));
    };
    child.once('close', exitedEarly);
    child.stdout.on('data', (chunk: Buffer) => {
      out += String(chunk);
      const page = /socketchart inspector: (http:\S+)/.exec(out);
      const apps = /apps send to (ws:\S+?):?\n/.exec(out);
      if (!page || !apps) return;
      clearTimeout(timer);
      child.stdout.removeAllListeners('data');
      child.stdout.resume();
      child.stderr.removeAllListeners('data');
      process.stderr.write(err);
      child.stderr.pipe(process.stderr, { end: false });
      child.off('close', exitedEarly);
      resolve({
        url: page[1]!,
        wsUrl: apps[1]!,
        close: () => {
          if (child.exitCode === null) child.kill('SIGTERM');
          return exited;
        },
      });
    });
  });
}
