import { fromCallback, type EventObject } from 'xstate';
import type { ConnectionRuntime } from './runtime.js';

/** Waits in `queued` for the dial gate's permit; leaving `queued` withdraws the request. */
export const permitActor = fromCallback<EventObject, ConnectionRuntime>(({ input: rt, sendBack }) => {
  const gate = rt.options.dialGate;
  if (!gate) {
    sendBack({ type: 'permit.granted' });
    return undefined;
  }
  return gate.request(rt.options.priority, () => sendBack({ type: 'permit.granted' }));
});
