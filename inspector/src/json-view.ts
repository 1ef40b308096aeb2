import { h } from './dom.js';

/** Objects and arrays deeper than this start folded. */
const OPEN_DEPTH = 2;
/** Members shown per object before a "… N more" line. */
const MAX_MEMBERS = 200;
/** Objects and arrays nested deeper than this are shown as their one-line summary (a recording from a file may nest without end). */
const MAX_DEPTH = 100;

function primitive(value: unknown): HTMLElement {
  if (value === null) return h('span', { class: 'j-null', text: 'null' });
  switch (typeof value) {
    case 'string':
      return h('span', { class: 'j-str', text: JSON.stringify(value) });
    case 'number':
      return h('span', { class: 'j-num', text: String(value) });
    case 'boolean':
      return h('span', { class: 'j-bool', text: String(value) });
    default:
      return h('span', { class: 'j-null', text: String(value) });
  }
}

/** A one-line summary of a value: `{ code, message, +3 }`, `[4 items]`, `"text"`. */
export function preview(value: unknown, width = 80): string {
  if (value === null || typeof value !== 'object') return typeof value === 'string' ? JSON.stringify(value) : String(value);
  if (Array.isArray(value)) return `[${value.length} item${value.length === 1 ? '' : 's'}]`;
  const parts: string[] = [];
  let used = 2;
  const entries = Object.entries(value as Record<string, unknown>);
  for (const [key, inner] of entries) {
    const text = inner !== null && typeof inner === 'object' ? `${key}: …` : `${key}: ${typeof inner === 'string' ? JSON.stringify(inner) : String(inner)}`;
    if (used + text.length > width) {
      parts.push(`+${entries.length - parts.length}`);
      break;
    }
    parts.push(text);
    used += text.length + 2;
  }
  return `{ ${parts.join(', ')} }`;
}

function node(value: unknown, depth: number): HTMLElement {
  if (value === null || typeof value !== 'object') return primitive(value);
  if (depth >= MAX_DEPTH) return h('span', { class: 'j-more', text: preview(value, 60) });
  const isArray = Array.isArray(value);
  const entries: Array<[string, unknown]> = isArray ? (value as unknown[]).map((v, i) => [String(i), v]) : Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return h('span', { class: 'j-punct', text: isArray ? '[]' : '{}' });
  const details = h('details', { class: 'j-node' });
  if (depth < OPEN_DEPTH) details.open = true;
  details.append(h('summary', { class: 'j-summary', text: isArray ? `[${entries.length}]` : preview(value, 60) }));
  const body = h('div', { class: 'j-body' });
  for (const [key, inner] of entries.slice(0, MAX_MEMBERS)) {
    body.append(h('div', { class: 'j-member' }, h('span', { class: isArray ? 'j-index' : 'j-key', text: isArray ? `${key}` : `${key}` }), h('span', { class: 'j-punct', text: ': ' }), node(inner, depth + 1)));
  }
  if (entries.length > MAX_MEMBERS) body.append(h('div', { class: 'j-more', text: `… ${entries.length - MAX_MEMBERS} more` }));
  details.append(body);
  return details;
}

/** Renders a value as a foldable, coloured tree into `target` (replacing what was there). */
export function renderJson(target: HTMLElement, value: unknown, title?: string): void {
  target.replaceChildren();
  if (title) target.append(h('div', { class: 'j-title', text: title }));
  target.append(node(value, 0));
}
