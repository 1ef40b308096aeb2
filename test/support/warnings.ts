import { vi } from 'vitest';

/** Silences `console.warn` from now on and keeps what it was told: XState warns there of events sent to stopped actors. */
export function consoleWarnings() {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  return {
    /** Each warning's first argument, as text. */
    texts: () => warn.mock.calls.map((call) => String(call[0])),
    restore: () => warn.mockRestore(),
  };
}
