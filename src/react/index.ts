/**
 * socketchart/react: a provider and hooks over connections and pools, on `@xstate/react`. Hooks subscribe
 * in effects (nothing is dialed or subscribed on a server render) and survive StrictMode's double mount
 * without a second socket, subscription or presence join.
 */
export { SocketchartProvider, SocketchartContext, useSocketchart, type SocketchartProviderProps, type SocketchartContextValue } from './context.js';
export {
  useConnection,
  useConnectionSelector,
  useConnectionStatus,
  useConnectionEvent,
  useConnectionError,
  useChannel,
  useChannelMessages,
  useSend,
  usePresence,
  usePresenceListener,
  useTyping,
  usePool,
  usePoolHealth,
  usePoolStatus,
  useOptimistic,
  type ConnectionTarget,
  type UseConnectionOptions,
  type ChannelApi,
  type UsePresenceOptions,
  type PresenceApi,
  type TypingApi,
  type OptimisticApi,
} from './hooks.js';
export { useLingeringEffect } from './lifetime.js';
