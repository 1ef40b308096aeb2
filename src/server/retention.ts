import { patternMatcher } from './channels.js';

/** How much history a channel keeps. */
export interface Retention {
  /** Most messages. */
  size: number;
  /** Most bytes of messages (their encoded data, id, event and publisher). */
  maxBytes: number;
}

/** History kept by the channels a pattern matches; what a limit leaves out comes from the defaults. */
export interface HistoryLimit {
  /** A channel pattern as in the channel rules (`log:*`, `room-*:lobby`), without `{userId}`. */
  pattern: string;
  /** Most messages kept per channel. @default historySize */
  size?: number;
  /** Most bytes kept per channel. @default historyMaxBytesPerChannel */
  maxBytes?: number;
}

/** Resolves each channel's retention: the first history limit whose pattern matches, else the defaults. */
export class RetentionRules {
  private readonly rules: readonly { matches: (channel: string) => boolean; retention: Retention }[];

  constructor(
    limits: readonly HistoryLimit[],
    private readonly defaults: Retention,
  ) {
    this.rules = limits.map((limit) => ({
      matches: patternMatcher(limit.pattern),
      retention: { size: limit.size ?? defaults.size, maxBytes: limit.maxBytes ?? defaults.maxBytes },
    }));
  }

  forChannel(ch: string): Retention {
    return this.rules.find((rule) => rule.matches(ch))?.retention ?? this.defaults;
  }
}

/** What a message weighs against a byte bound: the UTF-8 bytes of its encoded data, id, event and publisher. */
export function messageBytes(message: { dataJson: string; id?: string; event?: string; from?: string }): number {
  return utf8Bytes(message.dataJson) + utf8Bytes(message.id) + utf8Bytes(message.event) + utf8Bytes(message.from);
}

const utf8Bytes = (text: string | undefined): number => (text === undefined ? 0 : Buffer.byteLength(text));
