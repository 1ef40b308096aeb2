import type { OperationCodec, ProtocolAdapter } from './adapter.js';
import { closeRule, type CloseRule } from './close-codes.js';

/** The rule a close with `code` follows under `adapter`: its own rule for the code, else the common table's. */
export function closeRuleOf(adapter: ProtocolAdapter, code: number): CloseRule {
  const own = adapter.closeRule?.(code);
  if (own !== undefined) return own;
  return closeRule(adapter.normalizeCloseCode?.(code) ?? code);
}

/** The operations `adapter` runs: its own codec, or one made of `encode`/`unsubscribeFrame` for the deprecated `startsOperations`. */
export function operationCodecOf(adapter: ProtocolAdapter): OperationCodec | undefined {
  if (adapter.operations !== undefined) return adapter.operations;
  if (adapter.startsOperations !== true) return undefined;
  return { start: (id, payload) => adapter.encode(payload, { channel: id }), stop: (id) => adapter.unsubscribeFrame(id) };
}

/** Whether the server behind `adapter` acknowledges messages (`send(…, { ack: true })`, `request()`). */
export function acknowledgesOf(adapter: ProtocolAdapter): boolean {
  return adapter.acknowledges ?? operationCodecOf(adapter) === undefined;
}
