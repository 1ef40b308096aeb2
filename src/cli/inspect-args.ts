import { exactOrigin } from '../inspection/app-origins.js';
import { DEFAULT_INSPECTOR_PORT } from '../inspection/protocol.js';
import { flags, hostValue, shown, UsageError, wholeNumber } from './flags.js';

export interface InspectArgs {
  /** Port to listen on (`0`: any free port). */
  port: number;
  /** Interface to listen on. */
  host: string;
  /** Started by another process (the demo): exit when its standard input ends, leave Ctrl-C to it. */
  exitWithParent: boolean;
  /** What to tell the user to change when the port is taken: `--port`, or the flag of the process that started it. */
  portFlag: string;
  /** Web pages whose apps may send besides those on loopback (`--app-origin`), or `'*'`. */
  appOrigins: string[] | '*';
}

export const inspectUsage = `usage: socketchart inspect [options]

  Starts the offline inspector: a page at http://127.0.0.1:<port>/ that draws every inspected actor
  live, and a WebSocket on the same port that apps send to, with socketchart's helper
  (connectInspector({ url })) or @statelyai/inspect's createWebSocketInspector({ url }).

  --port <n>     port to listen on (default ${DEFAULT_INSPECTOR_PORT}; 0 for any free port)
  --host <addr>  interface to listen on (default 127.0.0.1: loopback only; anything else exposes
                 what your apps send to the network)
  --app-origin <origin>
                 a web page whose app may send, such as https://app.test:5173 (repeatable; '*' for any
                 page). Apps outside a browser and pages on loopback always may
  --exit-with-parent
                 exit when standard input ends, and leave Ctrl-C to the parent (how the demo runs it)
  --port-flag=<flag>
                 the flag to name when the port is taken (default --port; the demo names its --inspect)
  --help         this text`;

/** Parses `socketchart inspect`'s flags; throws UsageError for anything it does not know. */
export function parseInspectArgs(argv: readonly string[]): InspectArgs | 'help' {
  const args: InspectArgs = { port: DEFAULT_INSPECTOR_PORT, host: '127.0.0.1', exitWithParent: false, portFlag: '--port', appOrigins: [] };
  for (const { name, value, unexpected } of flags(argv)) {
    switch (name) {
      case '--help':
      case '-h':
        return 'help';
      case '--port':
        args.port = wholeNumber('--port', value(), 0, 65_535);
        break;
      case '--host':
        args.host = hostValue('--host', value());
        break;
      case '--app-origin': {
        const origin = value() ?? '';
        if (origin === '*') args.appOrigins = '*';
        else if (exactOrigin(origin) === undefined) throw new UsageError(`--app-origin expects an origin such as https://app.test:5173, or '*', got ${shown(origin)}`);
        else if (args.appOrigins !== '*') args.appOrigins.push(origin);
        break;
      }
      case '--exit-with-parent':
        args.exitWithParent = true;
        break;
      case '--port-flag':
        args.portFlag = value() ?? '';
        if (!args.portFlag.startsWith('-')) throw new UsageError('--port-flag expects a flag given with =, such as --port-flag=--inspect');
        break;
      default:
        throw unexpected();
    }
  }
  return args;
}
