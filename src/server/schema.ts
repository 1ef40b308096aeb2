import type * as Zod from 'zod';
import { dependencies } from './dependencies.js';
import { MAX_MESSAGE_ID_LENGTH, clientFrameTypes, type ClientFrame, type ClientFrameType } from '../protocol/wire.js';
import { CHANNEL_NAME_PATTERN, MAX_CHANNEL_LENGTH } from './channels.js';
import { boundsProblem, type JsonBounds } from './json-bounds.js';

const { z } = dependencies.core<typeof Zod>('zod');

const channel = z.string().max(MAX_CHANNEL_LENGTH).regex(CHANNEL_NAME_PATTERN, 'expected a channel name type:id[:sub]');
const messageId = z.string().min(1).max(MAX_MESSAGE_ID_LENGTH);
const eventName = z
  .string()
  .max(64)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'expected an event name of letters, digits and _ . : -');
const seq = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const isPresenceMeta = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).every((key) => key.length <= 64);
/** Kept as parsed: a record rebuilt key by key would lose a key named `__proto__`. */
const presenceMeta = z.custom<Record<string, unknown>>(isPresenceMeta, 'expected an object whose keys have at most 64 characters');
const timestamp = z.number().finite().optional();

/** Every frame a client may send, validated before anything acts on it. */
export const clientFrameSchema: Zod.ZodType<ClientFrame> = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auth'), token: z.string().min(1).max(16_384) }),
  z.object({ type: z.literal('ping'), ts: timestamp }),
  z.object({ type: z.literal('pong'), ts: timestamp }),
  z.object({ type: z.literal('subscribe'), ch: channel, since: seq.optional() }),
  z.object({ type: z.literal('unsubscribe'), ch: channel }),
  z.object({ type: z.literal('publish'), ch: channel, id: messageId.optional(), data: z.unknown(), event: eventName.optional() }),
  z.object({ type: z.literal('presence'), ch: channel, action: z.enum(['join', 'leave', 'list']), meta: presenceMeta.optional() }),
  z.object({ type: z.literal('typing'), ch: channel, typing: z.boolean() }),
]);

export type ParseResult =
  | { ok: true; frame: ClientFrame }
  | { ok: false; message: string; details?: unknown; id?: string }
  | { ok: false; notYet: true; type: ClientFrameType };

const knownTypes = new Set<string>(clientFrameTypes);

/**
 * Parses one text frame: JSON, the shape bounds, the frame type, then the frame schema. A frame whose type
 * is not in `accepted` is returned as `notYet` without being validated further. Never throws.
 */
export function parseClientFrame(text: string, bounds: JsonBounds, accepted: ReadonlySet<ClientFrameType> = knownTypes as ReadonlySet<ClientFrameType>): ParseResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, message: 'malformed JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, message: 'a frame must be a JSON object' };
  }
  const record = json as Record<string, unknown>;
  const id = typeof record.id === 'string' && record.id.length <= MAX_MESSAGE_ID_LENGTH ? record.id : undefined;
  const problem = boundsProblem(json, bounds, text);
  if (problem) return { ok: false, message: `frame ${problem}`, ...(id ? { id } : {}) };
  const type = record.type;
  if (typeof type !== 'string') return { ok: false, message: 'a frame needs a string "type"', ...(id ? { id } : {}) };
  if (!knownTypes.has(type)) {
    return { ok: false, message: `unknown frame type "${type.slice(0, 40)}"`, details: { type: type.slice(0, 40) }, ...(id ? { id } : {}) };
  }
  if (!accepted.has(type as ClientFrameType)) return { ok: false, notYet: true, type: type as ClientFrameType };
  const parsed = clientFrameSchema.safeParse(json);
  if (parsed.success) return { ok: true, frame: parsed.data };
  const issues = parsed.error.issues.slice(0, 5).map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
  return { ok: false, message: `invalid "${type}" frame`, details: { issues }, ...(id ? { id } : {}) };
}
