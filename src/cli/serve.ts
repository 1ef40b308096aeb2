import type { ChannelRule } from '../server/channels.js';
import { bracketed, explained } from './explained.js';
import { UsageError } from './flags.js';
import { parseServeArgs, parseTokenArgs, serveUsage, tokenUsage } from './serve-args.js';

/** The channels of the README's examples (examples/server.ts). */
export const exampleChannels: readonly ChannelRule[] = [
  { pattern: 'chat:*', subscribe: true, publish: true, presence: true, events: ['message', 'typing_start'] },
  { pattern: 'orders:*', subscribe: true, publish: true },
  { pattern: 'todos:*', subscribe: true, publish: true },
  { pattern: 'jobs:*', subscribe: true },
  { pattern: 'status:*', subscribe: true, publish: true },
  { pattern: 'user:{userId}:*', subscribe: true, publish: true },
  { pattern: 'admin:*', subscribe: { roles: ['admin'] }, publish: { roles: ['admin'] } },
];

/** Reads the command's arguments, printing the usage for `--help` (0) or a usage error (2). */
function parsed<T>(parse: () => T | 'help', usage: string): T | number {
  try {
    const args = parse();
    if (args !== 'help') return args;
    console.log(usage);
    return 0;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${usage}`);
    return 2;
  }
}

/** `socketchart serve`: runs the reference server until SIGINT or SIGTERM; resolves with the exit code. */
export async function serve(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  const args = parsed(() => parseServeArgs(argv, env), serveUsage);
  if (typeof args === 'number') return args;
  // a signal while it starts (waiting for Redis) ends it at once; one while it closes (the SIGINT npm forwards after the terminal's) leaves the close to finish
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = () => resolve()));
  process.on('SIGINT', stop).on('SIGTERM', stop);
  try {
    let server;
    try {
      const { createServer } = await import('../server/index.js');
      const starting = createServer({ port: args.port, host: args.host, auth: { jwtSecret: env.JWT_SECRET }, channels: exampleChannels, redis: args.redis, trustedProxies: args.trustedProxies, forwardedHeader: args.forwardedHeader });
      server = await Promise.race([starting, stopped]);
      if (!server) {
        starting.then((late) => late.close(), () => undefined);
        return 0;
      }
    } catch (error) {
      console.error(explained(error, args));
      return 1;
    }
    console.log(`socketchart server: ws://${bracketed(args.host)}:${server.address()?.port}${args.redis ? ' (scaled out over Redis)' : ''}`);
    console.log('tokens: socketchart token <userId> (signed with JWT_SECRET); Ctrl-C to stop');
    await stopped;
    await server.close();
    return 0;
  } finally {
    process.off('SIGINT', stop).off('SIGTERM', stop);
  }
}

/** `socketchart token <userId>`: prints a token signed with JWT_SECRET; resolves with the exit code. */
export async function token(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  const args = parsed(() => parseTokenArgs(argv), tokenUsage);
  if (typeof args === 'number') return args;
  if (!env.JWT_SECRET) {
    console.error('JWT_SECRET is not set: export the secret (32 bytes or more) that socketchart serve verifies tokens with');
    return 1;
  }
  try {
    const { createToken } = await import('../server/tokens.js');
    console.log(await createToken({ secret: env.JWT_SECRET, userId: args.userId, expiresInSec: args.ttlSec }));
    return 0;
  } catch (error) {
    console.error(explained(error));
    return 1;
  }
}
