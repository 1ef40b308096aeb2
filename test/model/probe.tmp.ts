import { connectionModel, variants } from '../support/model-connection.js';
const v = variants[Number(process.argv[2] ?? 0)]!;
const m = connectionModel(v);
const seen = new Map<string, ReturnType<typeof m.logic.getInitialSnapshot>>();
const queue = [m.initial];
seen.set(m.key(m.initial), m.initial);
const t0 = Date.now();
let edges = 0;
while (queue.length && seen.size < 20000) {
  const s = queue.shift()!;
  const evs = (m as any).logic ? [] : [];
  for (const e of (m.adjacency as any) ? [] : []) {}
  // use logic.transition with events from the config via paths API isn't exposed; reuse internals:
  const events = m.events(s);
  for (const e of events) { edges++; const n = m.logic.transition(s, e, undefined as never); const k = m.key(n); if (!seen.has(k)) { seen.set(k, n); queue.push(n); } }
}
console.log('vertices', seen.size, 'edges', edges, 'ms', Date.now() - t0);
const count = new Map<string, number>();
for (const k of seen.keys()) { const j = JSON.parse(k); const tag = JSON.stringify(j[0].value) ; count.set(tag, (count.get(tag) ?? 0) + 1); }
console.log([...count].sort((a, b) => b[1] - a[1]).slice(0, 15));
const sample = [...seen.keys()].filter((k) => k.includes('"connected"')).slice(0, 5);
console.log(sample.join('\n'));
