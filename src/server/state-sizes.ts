const registry = new WeakMap<object, () => Record<string, number>>();

/** Registers how to count a server's state (called once by `createServer`). */
export function registerStateSizes(server: object, sizes: () => Record<string, number>): void {
  registry.set(server, sizes);
}

/**
 * Entries of every map a server keeps per connection, user, address and channel, by name: after every
 * client has gone (and full rate-limit buckets and idle history have been forgotten) they are back to
 * what they were before the clients came.
 */
export function stateSizes(server: object): Record<string, number> {
  const sizes = registry.get(server);
  if (!sizes) throw new TypeError('not a server created by createServer');
  return sizes();
}
