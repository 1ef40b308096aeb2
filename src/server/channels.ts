import type { Identity } from './auth.js';
import { SEGMENT_CHARS } from './user-id.js';

export const MAX_CHANNEL_LENGTH = 200;
/** `type:id` or `type:id:sub`; segments never contain `:` or `*`. */
export const CHANNEL_NAME_PATTERN = new RegExp(`^[A-Za-z0-9_-]+(?::[${SEGMENT_CHARS}]+){1,2}$`);
const PATTERN_SEGMENT = new RegExp(`^(?:\\{userId\\}|[*${SEGMENT_CHARS}]+)$`);

/** What a client asks to do on a channel. */
export type ChannelAction = 'subscribe' | 'publish' | 'presence';

/**
 * Who may perform an action on the channels a rule matches:
 * `true` every authenticated user, `false` nobody,
 * `{ roles }` users holding at least one of the roles, `{ permissions }` users holding every listed permission
 * (both keys: both conditions), or a function deciding per identity and channel.
 */
export type Grant =
  | boolean
  | { roles?: readonly string[]; permissions?: readonly string[] }
  | ((identity: Identity, channel: string) => boolean);

/** One authorization rule. Rules add up: an action is allowed when at least one rule whose pattern matches grants it; otherwise it is denied. */
export interface ChannelRule {
  /**
   * Two or three `:`-separated segments, matched segment by segment against channels of as many segments:
   * `*` matches exactly one segment (wherever it stands, last included), `*` inside a segment any characters
   * of that segment (`room-*`), and `{userId}` exactly the caller's user id. So `chat:*` matches `chat:lobby`
   * but not `chat:lobby:thread`, and `user:{userId}:*` matches `user:alice:inbox` but not `user:alice`.
   * Examples: `chat:*`, `chat:*:*`, `user:{userId}:*`, `agent-status:{userId}`.
   */
  pattern: string;
  /** Who may subscribe (and so receive messages, presence diffs and typing). @default false */
  subscribe?: Grant;
  /** Who may publish. @default false */
  publish?: Grant;
  /** Who may join, leave and list presence and send typing indicators. @default false */
  presence?: Grant;
  /** Events a publish may carry; a publish without `event` counts as `message`. @default undefined (any event) */
  events?: readonly string[];
}

/** The rules used when `channels` is not given: users may use their own `user:<id>` channels and read `broadcast:all`. */
export const defaultChannelRules: readonly ChannelRule[] = [
  { pattern: 'user:{userId}', subscribe: true },
  { pattern: 'user:{userId}:*', subscribe: true, publish: true, presence: true },
  { pattern: 'broadcast:all', subscribe: true },
];

/** Channel every connection of a user receives without subscribing; `sendToUser` publishes here. */
export const userChannel = (userId: string): string => `user:${userId}`;
/** Channel every connection receives without subscribing; `broadcastAll` publishes here. */
export const BROADCAST_ALL_CHANNEL = 'broadcast:all';


export const isChannelName = (name: string): boolean => name.length <= MAX_CHANNEL_LENGTH && CHANNEL_NAME_PATTERN.test(name);

/** The `type` of a `type:id[:sub]` channel, which selects its rate limit. */
export const channelType = (name: string): string => {
  const colon = name.indexOf(':');
  return colon < 0 ? name : name.slice(0, colon);
};

/** Returns why a pattern is invalid, or undefined. */
export function patternProblem(pattern: string): string | undefined {
  const segments = pattern.split(':');
  if (segments.length < 2 || segments.length > 3) return 'two or three `:`-separated segments';
  if (segments.some((segment) => !PATTERN_SEGMENT.test(segment))) return 'segments of letters, digits, _ . @ = + ~ | -, `*` or `{userId}`';
  return undefined;
}

type SegmentMatcher = { kind: 'literal'; text: string } | { kind: 'any' } | { kind: 'glob'; pieces: string[] } | { kind: 'self' };

interface CompiledRule {
  rule: ChannelRule;
  segments: SegmentMatcher[];
  events: ReadonlySet<string> | undefined;
}

function compileSegment(segment: string): SegmentMatcher {
  if (segment === '{userId}') return { kind: 'self' };
  if (segment === '*') return { kind: 'any' };
  if (segment.includes('*')) return { kind: 'glob', pieces: segment.split('*') };
  return { kind: 'literal', text: segment };
}

/**
 * Whether `text` is the glob's pieces with anything between them: the first a prefix, the last a suffix, each
 * other found leftmost after the one before (which no later match could improve on). Linear in the text, where a
 * backtracking regular expression of many stars takes seconds on a long name.
 */
function globMatches(pieces: readonly string[], text: string): boolean {
  const first = pieces[0]!;
  const last = pieces[pieces.length - 1]!;
  if (text.length < first.length + last.length || !text.startsWith(first) || !text.endsWith(last)) return false;
  let at = first.length;
  const end = text.length - last.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    const found = text.indexOf(pieces[i]!, at);
    if (found < 0 || found + pieces[i]!.length > end) return false;
    at = found + pieces[i]!.length;
  }
  return true;
}

function compileRule(rule: ChannelRule): CompiledRule {
  return {
    rule,
    segments: rule.pattern.split(':').map(compileSegment),
    events: rule.events ? new Set(rule.events) : undefined,
  };
}

function segmentMatches(matcher: SegmentMatcher, segment: string, identity: Identity): boolean {
  switch (matcher.kind) {
    case 'literal':
      return matcher.text === segment;
    case 'any':
      return segment.length > 0;
    case 'glob':
      return globMatches(matcher.pieces, segment);
    case 'self':
      return segment === identity.userId;
  }
}

function matches(compiled: CompiledRule, parts: readonly string[], identity: Identity): boolean {
  const { segments } = compiled;
  if (parts.length !== segments.length) return false;
  for (let i = 0; i < segments.length; i++) {
    if (!segmentMatches(segments[i]!, parts[i]!, identity)) return false;
  }
  return true;
}

const nobody: Identity = { userId: '', roles: [], permissions: [], claims: {} };

/** Whether channels match a pattern that does not depend on the caller (no `{userId}`). */
export function patternMatcher(pattern: string): (channel: string) => boolean {
  const compiled = compileRule({ pattern });
  return (channel) => matches(compiled, channel.split(':'), nobody);
}

function granted(grant: Grant | undefined, identity: Identity, channel: string): boolean {
  if (grant === undefined || grant === false) return false;
  if (grant === true) return true;
  if (typeof grant === 'function') {
    try {
      return grant(identity, channel) === true;
    } catch {
      return false;
    }
  }
  if (grant.roles && !grant.roles.some((role) => identity.roles.includes(role))) return false;
  if (grant.permissions && !grant.permissions.every((permission) => identity.permissions.includes(permission))) return false;
  return true;
}

export type AuthorizationResult = { ok: true } | { ok: false; reason: string };

/** Channel authorization: compiled once, asked for every subscribe, publish, presence and typing frame. */
export class ChannelAuthorizer {
  private readonly rules: readonly CompiledRule[];

  constructor(rules: readonly ChannelRule[]) {
    this.rules = rules.map(compileRule);
  }

  authorize(identity: Identity, channel: string, action: ChannelAction, event?: string): AuthorizationResult {
    const parts = channel.split(':');
    let grantedWithoutEvent = false;
    for (const compiled of this.rules) {
      if (!matches(compiled, parts, identity) || !granted(compiled.rule[action], identity, channel)) continue;
      if (action !== 'publish' || !compiled.events || compiled.events.has(event ?? 'message')) return { ok: true };
      grantedWithoutEvent = true;
    }
    if (grantedWithoutEvent) return { ok: false, reason: `event "${event ?? 'message'}" is not allowed on this channel` };
    return { ok: false, reason: `${action} is not allowed on this channel` };
  }
}
