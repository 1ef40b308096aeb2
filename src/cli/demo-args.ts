import { DEFAULT_INSPECTOR_PORT } from '../inspection/protocol.js';
import { flags, redisUrl, UsageError, wholeNumber } from './flags.js';

export interface DemoArgs {
  /** Seconds the scripted demo runs. */
  durationSec: number;
  /** Connections in the pool (the first eight are the seed feeds). */
  connections: number;
  /** Repeat the fault cycle until interrupted. */
  forever: boolean;
  /** Redis URL: run two server nodes sharing it. */
  redis: string | undefined;
  /** Open the offline inspector on this loopback port (`0`: any free port), or `false`. */
  inspect: number | false;
}

export const usage = `usage: npm start -- [options]

  --duration <seconds>   how long the scripted demo runs (10-3600, default 30)
  --connections <n>      connections in the pool (1-1000, default 8: the seed feeds)
  --forever              repeat the fault cycle until Ctrl-C (at any time, Ctrl-C or SIGTERM prints the report
                         at once; a second one exits)
  --redis <url>          run two server nodes that share this Redis (default: one in-process node, no Redis)
  --inspect[=<port>]     open the offline inspector on loopback (default port 4242, 0 for any free port),
                         print its URL and keep it open after the report until Ctrl-C
  --help                 this text`;

export { UsageError };


/** Parses the demo's flags; throws UsageError for anything it does not know. */
export function parseDemoArgs(argv: readonly string[]): DemoArgs | 'help' {
  const args: DemoArgs = { durationSec: 30, connections: 8, forever: false, redis: undefined, inspect: false };
  for (const { name, value, optionalValue, unexpected } of flags(argv)) {
    switch (name) {
      case '--help':
      case '-h':
        return 'help';
      case '--duration':
        args.durationSec = wholeNumber('--duration', value(), 10, 3_600);
        break;
      case '--connections':
        args.connections = wholeNumber('--connections', value(), 1, 1_000);
        break;
      case '--forever':
        args.forever = true;
        break;
      case '--inspect':
        args.inspect = wholeNumber('--inspect', optionalValue() ?? String(DEFAULT_INSPECTOR_PORT), 0, 65_535);
        break;
      case '--redis':
        args.redis = redisUrl('--redis', value());
        break;
      default:
        throw unexpected();
    }
  }
  return args;
}
