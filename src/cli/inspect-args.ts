import { DEFAULT_INSPECTOR_PORT } from '../inspection/protocol.js';
import { UsageError } from './demo-args.js';
import { flags } from './flags.js';

export interface InspectArgs {
  /** Port to listen on (`0`: any free port). */
  port: number;
  /** Interface to listen on. */
  host: string;
  /** Started by another process (the demo): exit when its standard input ends, leave Ctrl-C to it. */
  exitWithParent: boolean;
}

export const inspectUsage = `usage: socketchart inspect [options]

  Starts the offline inspector: a page at http://127.0.0.1:<port>/ that draws every inspected actor
  live, and a WebSocket on the same port that apps send to, with socketchart's helper
  (connectInspector({ url })) or @statelyai/inspect's createWebSocketInspector({ url }).

  --port <n>     port to listen on (default ${DEFAULT_INSPECTOR_PORT}; 0 for any free port)
  --host <addr>  interface to listen on (default 127.0.0.1: loopback only; anything else exposes
                 what your apps send to the network)
  --exit-with-parent
                 exit when standard input ends, and leave Ctrl-C to the parent (how the demo runs it)
  --help         this text`;

/** Parses `socketchart inspect`'s flags; throws UsageError for anything it does not know. */
export function parseInspectArgs(argv: readonly string[]): InspectArgs | 'help' {
  const args: InspectArgs = { port: DEFAULT_INSPECTOR_PORT, host: '127.0.0.1', exitWithParent: false };
  for (const { text, name, value } of flags(argv)) {
    switch (name) {
      case '--help':
      case '-h':
        return 'help';
      case '--port': {
        const raw = value();
        const port = Number(raw);
        if (raw === undefined || !Number.isInteger(port) || port < 0 || port > 65_535) {
          throw new UsageError(`--port expects a whole number from 0 to 65535, got ${raw === undefined ? 'nothing' : JSON.stringify(raw)}`);
        }
        args.port = port;
        break;
      }
      case '--host': {
        const host = value();
        if (!host || /[\s/]/.test(host)) throw new UsageError(`--host expects an address such as 127.0.0.1, got ${host === undefined ? 'nothing' : JSON.stringify(host)}`);
        args.host = host;
        break;
      }
      case '--exit-with-parent':
        args.exitWithParent = true;
        break;
      default:
        throw new UsageError(`unknown option ${JSON.stringify(text)}`);
    }
  }
  return args;
}
