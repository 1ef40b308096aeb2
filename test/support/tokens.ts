import type { TokenReason } from '../../src/index.js';

/** A token provider that hands out `tokens` in turn (repeating the last) and records why it was asked. */
export function tokenProvider(tokens: string[]) {
  const reasons: TokenReason[] = [];
  let next = 0;
  const token = async ({ reason }: { reason: TokenReason }) => {
    reasons.push(reason);
    return tokens[Math.min(next++, tokens.length - 1)]!;
  };
  return { token, reasons };
}
