import type { ConnectionSettings } from '../../machines/connection.types.js';
import type { ResolvedOptions } from './options.js';

/** How long the flusher waits when the socket pushes back. */
const FLUSH_RETRY_MS = 10;

const known = new WeakMap<ResolvedOptions, ConnectionSettings>();

/**
 * What the connection machine reads of resolved options (one object per resolved options, shared by their
 * connections). Not frozen: inspectors serialize snapshots by replacing members in place (as
 * `@statelyai/inspect`'s browser inspector does past ten members), which a frozen object refuses.
 */
export function settingsOf(options: ResolvedOptions): ConnectionSettings {
  let settings = known.get(options);
  if (settings) return settings;
  const { auth, protocol } = options;
  const mode = auth?.mode ?? 'message';
  const provider = typeof auth?.token === 'function';
  settings = {
    connectTimeoutMs: options.connectTimeoutMs,
    authTimeoutMs: options.authTimeoutMs,
    closeTimeoutMs: options.closeTimeoutMs,
    reconnect: options.reconnect,
    circuit: options.circuit,
    heartbeat: options.heartbeat !== false && protocol.pingFrame(0) !== undefined ? options.heartbeat : false,
    closeWhenHidden: options.closeWhenHidden,
    dialGated: options.dialGate !== undefined,
    awaitsAuthAnswer: protocol.awaitsAuthAnswer({ mode, token: auth ? 'token' : undefined }),
    canRefreshToken: provider,
    refreshesInBand: provider && protocol.refreshFrame('token') !== undefined,
    refreshLeadMs: auth?.refreshLeadMs ?? 0,
    urls: options.urls?.length ?? 1,
    failover: options.failover,
    flushRetryMs: FLUSH_RETRY_MS,
  };
  known.set(options, settings);
  return settings;
}
