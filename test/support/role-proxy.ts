import { createServer as createNetServer, connect, type Server, type Socket } from 'node:net';

export type Role = 'cmd' | 'sub';

/**
 * A loopback TCP proxy to Redis that tells a node's two connections apart (by the `CLIENT SETNAME
 * socketchart:<node>:cmd|sub` ioredis sends first) and can lag the replies of one role, or cut one role
 * and refuse it until allowed again.
 */
export function roleProxy(redisPort: number) {
  const lag: Record<Role, number> = { cmd: 0, sub: 0 };
  const blocked: Record<Role, boolean> = { cmd: false, sub: false };
  const pairs = new Set<{ client: Socket; upstream: Socket; role?: Role }>();
  const server: Server = createNetServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: redisPort });
    const pair: { client: Socket; upstream: Socket; role?: Role } = { client, upstream };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk) => {
      if (pair.role === undefined) {
        const text = chunk.toString('latin1');
        if (text.includes(':sub')) pair.role = 'sub';
        else if (text.includes(':cmd')) pair.role = 'cmd';
      }
      if (pair.role && blocked[pair.role]) {
        end();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      const ms = pair.role ? lag[pair.role] : 0;
      if (ms > 0) setTimeout(() => client.writable && client.write(chunk), ms);
      else client.write(chunk);
    });
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  return {
    listen: () => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port))),
    setLag: (role: Role, ms: number) => (lag[role] = ms),
    /** Cuts the open connections of `role` and refuses new ones until `allow(role)`. */
    block: (role: Role) => {
      blocked[role] = true;
      for (const pair of [...pairs]) if (pair.role === role) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
    },
    allow: (role: Role) => (blocked[role] = false),
    close: () => {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      server.close();
    },
  };
}
