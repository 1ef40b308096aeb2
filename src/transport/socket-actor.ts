import { fromCallback, type EventObject } from 'xstate';
import { ErrorCode, SocketchartError } from '../protocol/errors.js';
import type { ConnectionContext } from '../connection/types.js';
import { urlToDial } from '../connection/implementation.js';
import type { WebSocketLike } from './websocket-like.js';

const asAuthError = (cause: unknown) =>
  cause instanceof SocketchartError
    ? cause
    : new SocketchartError(ErrorCode.AUTHENTICATION_FAILED, { message: 'The token provider failed', recovery: 'retry', cause });

/**
 * The socket actor: owns at most one WebSocket for as long as it runs. It obtains the token, dials,
 * and when stopped (its state is left) closes the socket and detaches every handler.
 */
export const socketActor = fromCallback<EventObject, ConnectionContext>(({ input: context }) => {
  const rt = context.rt;
  const urlIndex = urlToDial(context);
  let ws: WebSocketLike | undefined;
  let stopped = false;
  const id = rt.beginSocket();
  const dial = (token: string | undefined) => {
    if (stopped) return;
    rt.tokenReason = 'connect';
    try {
      ws = rt.openSocket(token, urlIndex);
    } catch (cause) {
      rt.actor?.send({
        type: 'socket.close',
        socket: id,
        code: 1006,
        reason: rt.redact(cause instanceof Error ? cause.message : 'dial failed'),
        wasClean: false,
      });
    }
  };
  const auth = rt.options.auth;
  if (!auth || typeof auth.token === 'string') dial(auth?.token as string | undefined);
  else
    rt.obtainToken(rt.tokenReason).then(dial, (cause: unknown) => {
      if (!stopped) rt.actor?.send({ type: 'auth.error', socket: id, error: asAuthError(cause) });
    });
  return () => {
    stopped = true;
    if (ws) rt.releaseSocket(ws, 'drop');
  };
});
