import type { ProtocolAdapter } from './adapter.js';
import { closeRule, type CloseRule } from './close-codes.js';

/** The rule a close with `code` follows under `adapter`: its own rule for the code, else the common table's. */
export function closeRuleOf(adapter: ProtocolAdapter, code: number): CloseRule {
  const own = adapter.closeRule?.(code);
  if (own !== undefined) return own;
  return closeRule(adapter.normalizeCloseCode?.(code) ?? code);
}
