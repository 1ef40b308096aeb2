/** Whether a Redis URL names its database as a whole number (`/2`, `?db=3`) or not at all: ioredis selects NaN for anything else, and the reply it gets crashes the process. */
export function wholeRedisDatabase(url: URL): boolean {
  return /^(\/\d*)?$/.test(url.pathname) && /^\d+$/.test(url.searchParams.get('db') ?? '0');
}

/**
 * The ioredis options the server sets on its connections. ioredis lets a URL's query override them, as strings:
 * `?connectTimeout=5000` crashes the process, `?commandTimeout=…` turns the hang detection off.
 */
export const serverRedisOptions = ['connectTimeout', 'commandTimeout', 'lazyConnect', 'retryStrategy', 'maxRetriesPerRequest', 'enableOfflineQueue', 'autoResendUnfulfilledCommands', 'autoResubscribe', 'connectionName'] as const;

/** The first option of a Redis URL's query that the server sets itself, if any. */
export const serverRedisOptionIn = (url: URL): string | undefined => serverRedisOptions.find((name) => url.searchParams.has(name));
