import type { ForwardedHeader } from '../server/client-address.js';
import { addressRangeValue, choiceValue, flags, hostValue, redisUrl, UsageError, wholeNumber } from './flags.js';

export interface ServeArgs {
  /** Port to listen on (`0`: any free port). */
  port: number;
  /** Interface to listen on. */
  host: string;
  /** Redis URL to scale out over, if any. */
  redis: string | undefined;
  /** Proxies whose forwarding header names the client (`trustedProxies`). */
  trustedProxies: string[];
  /** The header they name it in (`forwardedHeader`). */
  forwardedHeader: ForwardedHeader;
}

export interface TokenArgs {
  userId: string;
  /** Lifetime of the token, in seconds. */
  ttlSec: number;
}

export const serveUsage = `usage: socketchart serve [options]

  Runs the reference server (socketchart/server) until Ctrl-C: a WebSocket at ws://<host>:<port> that
  verifies HS256 tokens signed with JWT_SECRET (32 bytes or more; socketchart token <userId> mints
  one), with the channels of the README's examples: chat:*, orders:*, todos:*, jobs:*, status:*, admin:*
  (role admin) and each user's own user:<id>:*. For other rules, roles, history and limits, build a server
  with createServer() from socketchart/server. Needs the server's packages (zod, pino, prom-client, jose).

  --port <n>                 port to listen on (default 8080; 0 for any free port)
  --host <addr>              interface to listen on (default 127.0.0.1)
  --redis <url>              scale out over this Redis (default: REDIS_URL when set; otherwise one node, in memory)
  --trusted-proxy <ip|cidr>  a reverse proxy or load balancer whose X-Forwarded-For names the client, for the
                             per-address limits and logs (repeatable; also loopback, linklocal, uniquelocal;
                             default: none, the socket's address)
  --forwarded-header <name>  the header the trusted proxies name the client in: x-forwarded-for (default) or
                             forwarded (RFC 7239)
  --help                     this text`;

export const tokenUsage = `usage: socketchart token <userId> [--ttl <seconds>]

  Prints a token for <userId> signed with JWT_SECRET, as socketchart serve verifies it.

  --ttl <seconds>  how long the token is valid (1-31536000, default 3600)
  --help           this text`;

/** Parses `socketchart serve`'s flags; throws UsageError for anything it does not know. */
export function parseServeArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): ServeArgs | 'help' {
  const args: ServeArgs = { port: 8080, host: '127.0.0.1', redis: undefined, trustedProxies: [], forwardedHeader: 'x-forwarded-for' };
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
      case '--redis':
        args.redis = redisUrl('--redis', value());
        break;
      case '--trusted-proxy':
        args.trustedProxies.push(addressRangeValue('--trusted-proxy', value()));
        break;
      case '--forwarded-header':
        args.forwardedHeader = choiceValue('--forwarded-header', value(), ['x-forwarded-for', 'forwarded']);
        break;
      default:
        throw unexpected();
    }
  }
  if (args.redis === undefined && env.REDIS_URL) args.redis = redisUrl('REDIS_URL', env.REDIS_URL);
  return args;
}

/** Parses `socketchart token`'s arguments; throws UsageError for anything it does not know. */
export function parseTokenArgs(argv: readonly string[]): TokenArgs | 'help' {
  let userId: string | undefined;
  let ttlSec = 3600;
  for (const { text, name, value, unexpected } of flags(argv)) {
    switch (name) {
      case '--help':
      case '-h':
        return 'help';
      case '--ttl':
        ttlSec = wholeNumber('--ttl', value(), 1, 31_536_000);
        break;
      default:
        if (text.startsWith('-') || userId !== undefined) throw unexpected();
        userId = text;
    }
  }
  if (userId === undefined) throw new UsageError('the user id is missing');
  return { userId, ttlSec };
}
