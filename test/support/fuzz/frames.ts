import { Opcode, type RawFrame } from './ws-frames.js';

/** A seeded source of choices. */
export class Chooser {
  constructor(readonly random: () => number) {}

  int(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = Math.floor(this.random() * 256);
    return out;
  }

  /** Weighted choice: `[weight, value]` pairs. */
  weighted<T>(table: readonly (readonly [number, T])[]): T {
    const total = table.reduce((sum, [weight]) => sum + weight, 0);
    let at = this.random() * total;
    for (const [weight, value] of table) {
      if ((at -= weight) < 0) return value;
    }
    return table[table.length - 1]![1];
  }
}

const CHANNELS = ['chat:a', 'chat:b', 'chat:neighbour', 'room-1:lobby', 'user:f1:inbox', 'feed:x:y', 'admin:ops', 'broadcast:all'];
const ODD_STRINGS = ['', ' ', '__proto__', 'constructor', 'prototype', 'null', '💥', 'é', '\u0000', '\ud800', 'a'.repeat(200), '{"type":"auth"}', ':', '*', 'chat:*', '{userId}'];

function text(choose: Chooser): string {
  if (choose.chance(0.3)) return choose.pick(ODD_STRINGS);
  const length = choose.int(0, 24);
  let out = '';
  for (let i = 0; i < length; i++) out += String.fromCharCode(choose.chance(0.9) ? choose.int(32, 126) : choose.int(0, 0xffff));
  return out;
}

function channel(choose: Chooser): string {
  if (choose.chance(0.7)) return choose.pick(CHANNELS);
  return choose.chance(0.5) ? `t${choose.int(0, 40)}:${choose.int(0, 9)}` : text(choose);
}

/** Any JSON value, at most `depth` levels deep. */
export function jsonValue(choose: Chooser, depth: number): unknown {
  const kind = choose.int(0, depth > 0 ? 6 : 3);
  switch (kind) {
    case 0:
      return choose.pick([0, -1, 1.5, 2 ** 53, -(2 ** 63), 1e308, Number.MIN_VALUE, choose.int(-1e6, 1e6)]);
    case 1:
      return text(choose);
    case 2:
      return choose.chance(0.5);
    case 3:
      return null;
    case 4:
    case 5:
      return Array.from({ length: choose.int(0, 6) }, () => jsonValue(choose, depth - 1));
    default:
      return Object.fromEntries(Array.from({ length: choose.int(0, 6) }, () => [text(choose), jsonValue(choose, depth - 1)]));
  }
}

/** A frame of the wire protocol with plausible values. */
export function validFrame(choose: Chooser, userId: string): Record<string, unknown> {
  switch (choose.pick(['auth', 'ping', 'pong', 'subscribe', 'unsubscribe', 'publish', 'publish', 'publish', 'presence', 'typing'])) {
    case 'auth':
      return { type: 'auth', token: choose.chance(0.5) ? userId : text(choose) || 'x' };
    case 'ping':
      return { type: 'ping', ...(choose.chance(0.7) ? { ts: choose.int(0, 2 ** 40) } : {}) };
    case 'pong':
      return { type: 'pong', ts: choose.int(0, 1000) };
    case 'subscribe':
      return { type: 'subscribe', ch: channel(choose), ...(choose.chance(0.5) ? { since: choose.pick([0, 1, choose.int(0, 2 ** 52)]) } : {}) };
    case 'unsubscribe':
      return { type: 'unsubscribe', ch: channel(choose) };
    case 'publish':
      return {
        type: 'publish',
        ch: channel(choose),
        ...(choose.chance(0.6) ? { id: `m${choose.int(0, 500)}` } : {}),
        data: jsonValue(choose, 4),
        ...(choose.chance(0.3) ? { event: choose.pick(['message', 'typing_start', 'progress', 'x y', '']) } : {}),
      };
    case 'presence':
      return { type: 'presence', ch: channel(choose), action: choose.pick(['join', 'leave', 'list']), ...(choose.chance(0.5) ? { meta: jsonValue(choose, 3) } : {}) };
    default:
      return { type: 'typing', ch: channel(choose), typing: choose.chance(0.5) };
  }
}

/** A nested value `depth` levels deep, as text (built without recursion). */
export function nestedText(choose: Chooser, depth: number): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    if (choose.chance(0.5)) {
      open += '{"k":';
      close = `}${close}`;
    } else {
      open += '[';
      close = `]${close}`;
    }
  }
  return `${open}${choose.pick(['1', '"x"', 'null', '{}', '[]'])}${close}`;
}

/** A valid frame with one thing wrong: a field missing, of the wrong type, out of range, or extra. */
export function mutatedFrame(choose: Chooser, userId: string): string {
  const frame = validFrame(choose, userId);
  const keys = Object.keys(frame);
  const key = choose.pick(keys);
  const wrong: unknown[] = [null, true, 0, -1, 1.5, 1e21, '', 'x'.repeat(choose.int(1, 20_000)), [], {}, [1, [2, [3]]], { type: 'auth' }];
  switch (choose.int(0, 5)) {
    case 0:
      delete frame[key];
      break;
    case 1:
      frame[key] = choose.pick(wrong);
      break;
    case 2:
      frame[choose.pick(['__proto__', 'constructor', 'extra', text(choose)])] = jsonValue(choose, 3);
      break;
    case 3:
      frame.type = choose.pick(['', 'PUBLISH', 'message', 'ack', 'auth_ok', 'error', text(choose), 42]);
      break;
    case 4:
      frame.ch = choose.pick(['chat', 'chat:', ':x', 'a:b:c:d', 'chat:*', 'chat:with space', `chat:${'x'.repeat(300)}`]);
      break;
    default:
      frame.since = choose.pick([-1, 1.5, 2 ** 60, '1', null]);
  }
  return JSON.stringify(frame);
}

function garbage(choose: Chooser, userId: string): Buffer {
  const valid = JSON.stringify(validFrame(choose, userId));
  switch (choose.int(0, 7)) {
    case 0:
      return Buffer.from(valid.slice(0, choose.int(0, Math.max(0, valid.length - 1))));
    case 1:
      return Buffer.from(text(choose));
    case 2:
      return Buffer.from(choose.pick(['1e999', 'null', '[]', '"ping"', 'true', '{}', '{"type":null}', '{"type":"publish"}']));
    case 3:
      return Buffer.from(`\ufeff${valid}`);
    case 4:
      return Buffer.from(`${valid}${valid}`);
    case 5:
      return Buffer.from(valid.replace(/"/g, "'"));
    case 6:
      return Buffer.from(`{"type":"publish","ch":"chat:a","data":1,"data":${nestedText(choose, choose.int(1, 50))}}`);
    default:
      return Buffer.from(JSON.stringify(choose.bytes(choose.int(0, 64)).toString('latin1')));
  }
}

function wide(choose: Chooser): string {
  const count = choose.int(1000, 30_000);
  const inner = choose.chance(0.5) ? `[${'0,'.repeat(count - 1)}0]` : `{${Array.from({ length: Math.min(count, 6000) }, (_, i) => `"k${i}":0`).join(',')}}`;
  return choose.pick([
    `{"type":"publish","ch":"chat:a","id":"wide","data":${inner}}`,
    `{"type":"presence","ch":"chat:a","action":"join","meta":{"m":${inner}}}`,
    `{"type":"subscribe","ch":"chat:a","since":${inner}}`,
    inner,
  ]);
}

function deep(choose: Chooser): string {
  const nested = nestedText(choose, choose.int(20, 8000));
  return choose.pick([
    `{"type":"publish","ch":"chat:a","id":"deep","data":${nested}}`,
    `{"type":"presence","ch":"chat:a","action":"join","meta":{"m":${nested}}}`,
    `{"type":"auth","token":${nested}}`,
    `{"type":${nested}}`,
    nested,
  ]);
}

/** Splits a text message into fragments (a first frame and continuations). */
function fragments(choose: Chooser, opcode: number, payload: Buffer): RawFrame[] {
  if (payload.length < 2 || !choose.chance(0.15)) return [{ opcode, payload }];
  const cuts = [...new Set(Array.from({ length: choose.int(1, 4) }, () => choose.int(1, payload.length - 1)))].sort((a, b) => a - b);
  const bounds = [0, ...cuts, payload.length];
  const parts = bounds.slice(1).map((end, i) => payload.subarray(bounds[i], end));
  return parts.map((part, i) => ({ opcode: i === 0 ? opcode : Opcode.Continuation, payload: part, fin: i === parts.length - 1 }));
}

export type FuzzKind = 'valid' | 'mutated' | 'deep' | 'wide' | 'garbage' | 'binary' | 'control' | 'bad-utf8' | 'oversize' | 'protocol' | 'close';

/** One fuzz message: the frames that carry it, and what kind of input it is. */
export function fuzzMessage(choose: Chooser, userId: string, maxPayload: number): { kind: FuzzKind; frames: RawFrame[] } {
  const kind = choose.weighted<FuzzKind>([
    [28, 'valid'],
    [24, 'mutated'],
    [8, 'deep'],
    [6, 'wide'],
    [14, 'garbage'],
    [5, 'binary'],
    [6, 'control'],
    [1, 'bad-utf8'],
    [1, 'oversize'],
    [2, 'protocol'],
    [1, 'close'],
  ]);
  const textFrames = (payload: Buffer) => ({ kind, frames: fragments(choose, Opcode.Text, payload) });
  switch (kind) {
    case 'valid':
      return textFrames(Buffer.from(JSON.stringify(validFrame(choose, userId))));
    case 'mutated':
      return textFrames(Buffer.from(mutatedFrame(choose, userId)));
    case 'deep':
      return textFrames(Buffer.from(deep(choose)));
    case 'wide':
      return textFrames(Buffer.from(wide(choose)));
    case 'garbage':
      return textFrames(garbage(choose, userId));
    case 'binary':
      return { kind, frames: fragments(choose, Opcode.Binary, choose.bytes(choose.int(0, 2048))) };
    case 'control':
      return { kind, frames: [{ opcode: choose.pick([Opcode.Ping, Opcode.Pong]), payload: choose.bytes(choose.int(0, 125)) }] };
    case 'bad-utf8':
      return { kind, frames: [{ opcode: Opcode.Text, payload: Buffer.from([0x7b, 0xff, 0xfe, 0xc0, 0x7d]) }] };
    case 'oversize':
      return { kind, frames: [{ opcode: Opcode.Text, payload: Buffer.alloc(maxPayload + choose.int(1, 4096), 0x20) }] };
    case 'protocol':
      return {
        kind,
        frames: [
          choose.pick<RawFrame>([
            { opcode: Opcode.Text, payload: Buffer.from('{}'), rsv: choose.int(1, 7) },
            { opcode: Opcode.Text, payload: Buffer.from('{}'), masked: false },
            { opcode: choose.int(3, 7), payload: Buffer.from('{}') },
            { opcode: Opcode.Ping, payload: choose.bytes(200) },
            { opcode: Opcode.Ping, payload: Buffer.from('x'), fin: false },
            { opcode: Opcode.Continuation, payload: Buffer.from('stray') },
          ]),
        ],
      };
    default: {
      const code = Buffer.alloc(2);
      code.writeUInt16BE(choose.pick([1000, 1001, 1005, 1006, 2999, 3000, 4000, 4999, 5000, 0]));
      return { kind, frames: [{ opcode: Opcode.Close, payload: choose.chance(0.8) ? Buffer.concat([code, Buffer.from(text(choose).slice(0, 20))]) : choose.bytes(choose.int(0, 3)) }] };
    }
  }
}
