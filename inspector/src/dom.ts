/** Small DOM helpers. */

export function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el;
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<Record<string, string>> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else el.setAttribute(key, value);
  }
  for (const child of children) el.append(child);
  return el;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `12:03:04.512` in local time. */
export function clock(t: number): string {
  const d = new Date(t);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** `1,234` */
export const count = (n: number) => n.toLocaleString('en-US');

/** `n` things, as a count: `1 event`, `2 events`. */
export const counted = (n: number, thing: string) => `${count(n)} ${thing}${n === 1 ? '' : 's'}`;

/** The colour family of a state (or status) name, for dots and badges. */
export function tone(label: string, status = 'active'): string {
  if (status === 'error') return 'bad';
  if (status === 'stopped' || status === 'done') return 'off';
  if (/^(connected|running|up|streaming|quiet|valid|alive)$/.test(label)) return 'good';
  if (/^(connecting|authenticating|halfOpen|queued|starting|launching|probing|draining|awaitingPong|refreshing|confirming)$/.test(label)) return 'busy';
  if (/^(reconnecting|offline|suspended|closing|degraded|throttled|waiting|stopping|retrying|expiring|scheduled)$/.test(label)) return 'warn';
  if (/^(circuitOpen|failed|down)$/.test(label)) return 'bad';
  if (/^(idle|closed|stopped)$/.test(label)) return 'off';
  return 'plain';
}
