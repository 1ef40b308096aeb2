/** Whether a Redis URL names its database as a whole number (`/2`, `?db=3`) or not at all: ioredis selects NaN for anything else, and the reply it gets crashes the process. */
export function wholeRedisDatabase(url: URL): boolean {
  return /^(\/\d*)?$/.test(url.pathname) && /^\d+$/.test(url.searchParams.get('db') ?? '0');
}
