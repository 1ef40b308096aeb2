import ELK from 'elkjs/lib/elk-api.js';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { ChartView } from './chart-view.js';
import { activeStates, takenTransitions } from './definition.js';
import { $, clock, count, counted, h, tone } from './dom.js';
import { renderJson } from './json-view.js';
import { LogView, summary } from './log-view.js';
import { MetricsView } from './metrics-view.js';
import { IngestQueue } from './ingest-queue.js';
import { FrameStats, LongFrames } from './perf.js';
import { connectServer, listenToWindows, parseRecording, postedByWindow, type SourceStatus } from './sources.js';
import { ENTRY_TYPES, Store, type ActorInfo, type Entry, type Kind, type Rec, type TreeNode } from './store.js';
import { TreeView } from './tree-view.js';

const params = new URLSearchParams(location.search);
const maxEntries = Math.max(10_000, Number(params.get('keep')) || 300_000);

let store = new Store({ maxEntries });
/** Incoming records, ingested a time slice per animation frame (all at once while the tab is hidden). */
const queue = new IngestQueue<Rec>();
/** Entry seq of the time-travel moment; `null` while live. */
let cursor: number | null = null;
let selected: TreeNode | undefined;
/** The actor that was selected when the server's records were replaced: selected again once the new ones hold it, unless the user picks another first. */
let reselect: string | undefined;
let lastShown: { actor: ActorInfo | undefined; seq: number } = { actor: undefined, seq: -1 };
let flashNext = false;
/** Redraw the detail even if the shown snapshot is the same (a chart was just drawn, a filter changed). */
let detailForced = true;
let lastHeader = 0;
let mode: { kind: 'live' } | { kind: 'file'; name: string } = { kind: 'live' };
let sourceStatus: SourceStatus = 'connecting';
const stats = new FrameStats();
const longFrames = new LongFrames();
/** Budget of one frame's ingestion, in ms: the rest waits for the next frame. */
const INGEST_BUDGET_MS = 10;
/** Plots are redrawn at most this often. */
const PLOT_EVERY_MS = 500;
let lastPlot = 0;
let rate = { at: performance.now(), entries: 0, perSec: 0 };

const elk = new ELK({ workerUrl: 'elk-worker.min.js' });
const chart = new ChartView($('chart'), elk, $('chart-note'));
const tree = new TreeView($('tree'), () => store);
const log = new LogView($('log'), () => store, $('log-count'));
const metrics = new MetricsView($('metrics'), $('metrics-note'));

// ─── Frame scheduling ─────

const dirty = { tree: true, log: true, detail: true, header: true, timeline: true };
const markAll = () => {
  detailForced = true;
  dirty.tree = dirty.log = dirty.detail = dirty.header = dirty.timeline = true;
  schedule();
};
let scheduled = false;
function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(frame);
}

// ─── Sources ─────────────────────────────────────────────────────────────────────────────────────────

function enqueue(records: Rec[]): void {
  if (mode.kind !== 'live') return;
  queue.push(records);
  // A hidden tab runs no animation frames while its socket keeps reading: take the records in as they come.
  if (document.hidden) ingest(Infinity);
  else schedule();
}

const server = connectServer({
  onBatch: enqueue,
  onStatus: (status) => {
    sourceStatus = status;
    dirty.header = true;
    schedule();
  },
  onReset: () => {
    if (mode.kind === 'live') replaceServerRecords();
  },
});
const windows = listenToWindows((record) => enqueue([record]));

/** The server's socket opened again and replays what the server keeps: that replaces what it sent before; what windows posted (never posted again) stays. */
function replaceServerRecords(): void {
  queue.drain((rec) => store.ingest(rec) !== undefined, () => performance.now(), Infinity);
  const posted = store.exportRecords().filter(postedByWindow) as Rec[];
  const was = selected?.key;
  resetStore();
  reselect = was;
  enqueue(posted);
}

function resetStore(): void {
  store = new Store({ maxEntries });
  rate = { at: performance.now(), entries: store.lastSeq, perSec: 0 };
  queue.clear();
  cursor = null;
  selected = undefined;
  reselect = undefined;
  lastShown = { actor: undefined, seq: -1 };
  tree.selected = undefined;
  log.reset();
  log.setFilter({ node: undefined });
  renderJson($('payload'), 'Click an event to see it here.');
  markAll();
}

// ─── Frame loop: ingest a slice, then redraw what changed ───────────────────────────────────────────

function frame(): void {
  scheduled = false;
  const started = performance.now();
  const processed = ingest(INGEST_BUDGET_MS);
  render();
  if (processed > 0) stats.record(performance.now() - started, processed);
  // a header held back (drawn less than 250 ms ago) is drawn by a later frame: the last change must not wait for another
  if (!queue.isEmpty || dirty.log || dirty.header) schedule();
}

/** Takes queued records into the store for `budgetMs` (`Infinity`: all of them); returns how many made entries. */
function ingest(budgetMs: number): number {
  const processed = queue.drain((rec) => store.ingest(rec) !== undefined, () => performance.now(), budgetMs);
  if (processed > 0) {
    dirty.tree = dirty.log = dirty.header = dirty.timeline = true;
    if (cursor === null) dirty.detail = true;
    const wanted = reselect === undefined ? undefined : store.node(reselect);
    if (wanted) select(wanted, false);
    else if (!selected) autoSelect();
  }
  return processed;
}

// Hidden, the tab runs no animation frames: what is queued is taken in now, and everything is drawn once it is shown.
document.addEventListener('visibilitychange', () => {
  if (document.hidden) ingest(Infinity);
  else markAll();
});

/** The first pool (or the first root) is selected until the user picks something. */
function autoSelect(): void {
  const pool = [...store.walk()].find((n) => n.sessions[0]?.kind === 'pool') ?? store.roots[0];
  if (pool) select(pool, false);
}

function render(): void {
  const at = cursor ?? Infinity;
  if (dirty.tree) {
    tree.selected = selected;
    tree.render(at);
    dirty.tree = false;
  }
  if (dirty.log) {
    log.setCursor(cursor);
    log.render();
    dirty.log = log.filtering;
  }
  if (dirty.detail) {
    renderDetail();
    dirty.detail = false;
  }
  const now = performance.now();
  if (now - lastPlot > PLOT_EVERY_MS || dirty.timeline) {
    if (now - lastPlot > PLOT_EVERY_MS) {
      lastPlot = now;
      metrics.update(store, selected, cursor);
    }
  }
  if (dirty.header && now - lastHeader > 250) {
    lastHeader = now;
    renderHeader();
    dirty.header = false;
  }
  if (dirty.timeline) {
    renderTimeline();
    dirty.timeline = false;
  }
}

// ─── Selection and detail ───────────────────────────────────────────────────────────────────────────

function select(node: TreeNode, byUser = true): void {
  if (byUser || node.key === reselect) reselect = undefined;
  selected = node;
  tree.selected = node;
  if (byUser) chart.follow();
  log.setFilter({ node });
  metrics.update(store, node, cursor);
  lastPlot = performance.now();
  markAll();
}

function renderDetail(): void {
  const node = selected;
  const at = cursor ?? store.lastSeq;
  const session = node ? store.sessionAt(node, at) : undefined;
  if (!node || !session) {
    $('chart-title').textContent = 'Statechart';
    $('chart-state').textContent = '';
    chart.show(undefined, '');
    renderJson($('context'), 'Select an actor in the tree.');
    return;
  }
  const def = store.definition(session.defId);
  const { snapshot, entry } = store.snapshotAt(session, at);
  const runs = node.sessions.filter((s) => s.created <= at);
  const { status, label } = store.stateAt(session, at);
  $('chart-title').textContent = `${node.name}`;
  const stateEl = $('chart-state');
  stateEl.textContent = label || status;
  stateEl.dataset.state = label || status;
  stateEl.className = `chip ${label ? 'state' : ''} ${tone(label || (status === 'active' ? 'plain' : status), status)}`;
  $('chart-sub').textContent = `${def.id}${runs.length > 1 ? ` · session ${runs.indexOf(session) + 1} of ${runs.length}` : ''}${status !== 'active' ? ` · ${status}` : ''}`;
  chart.show(def, session.defId);
  const active = activeStates(def, snapshot.value);
  let taken = new Set<string>();
  if (entry) {
    const previous = store.snapshotAt(session, entry.seq - 1).snapshot;
    taken = takenTransitions(def, activeStates(def, previous.value), active, entry.type, entry.transitions);
  }
  const fresh = lastShown.actor !== session || lastShown.seq !== (entry?.seq ?? -1);
  if (!fresh && !detailForced) return;
  detailForced = false;
  chart.update(active, taken, fresh && entry !== undefined && (cursor === null || flashNext));
  flashNext = false;
  lastShown = { actor: session, seq: entry?.seq ?? -1 };
  const shown: Record<string, unknown> = { status: snapshot.status ?? status };
  if (snapshot.value !== undefined) shown.value = snapshot.value;
  if (snapshot.context !== undefined) shown.context = snapshot.context;
  if (snapshot.tags && snapshot.tags.length > 0) shown.tags = snapshot.tags;
  if (snapshot.children && Object.keys(snapshot.children).length > 0) shown.children = Object.keys(snapshot.children);
  if (snapshot.error !== undefined) shown.error = snapshot.error;
  if (snapshot.output !== undefined) shown.output = snapshot.output;
  const asOf = entry ?? session.initialFrom;
  renderJson($('context'), shown, asOf === 'announced' ? 'as announced, created earlier' : asOf ? `as of ${clock(asOf.t)} — after ${asOf.type || '(init)'}` : 'as created');
}

chart.onDrawn = () => {
  detailForced = true;
  dirty.detail = true;
  schedule();
};

// ─── Header, timeline, perf ─────────────────────────────────────────────────────────────────────────

function renderHeader(): void {
  const pill = $('source');
  if (mode.kind === 'file') {
    pill.textContent = `recording: ${mode.name}`;
    pill.className = 'pill file';
  } else {
    const w = windows.connected ? ' + window' : '';
    pill.textContent = `${sourceStatus === 'live' ? 'live' : sourceStatus === 'connecting' ? 'connecting…' : 'server away, retrying…'}${w}`;
    pill.className = `pill ${sourceStatus}`;
  }
  const now = performance.now();
  if (now - rate.at >= 1_000) {
    rate = { at: now, entries: store.lastSeq, perSec: ((store.lastSeq - rate.entries) * 1_000) / (now - rate.at) };
  }
  const actors = mode.kind === 'file' ? `${counted(store.live, 'actor')} running at the end` : counted(store.live, 'live actor');
  const perSec = mode.kind === 'file' ? '' : ` · ${count(Math.round(rate.perSec))}/s`;
  $('counts').textContent = `${actors} · ${counted(store.lastSeq + 1, 'event')}${perSec}${store.droppedUpstream > 0 ? ` · ${count(store.droppedUpstream)} dropped by the server` : ''}${store.trimmed > 0 ? ` · oldest ${count(store.trimmed)} let go` : ''}${queue.rejected > 0 ? ` · ${count(queue.rejected)} unreadable left out` : ''}`;
  const perf = $('perf');
  const p50 = stats.percentile(50);
  const p95 = stats.percentile(95);
  perf.textContent = `frame p50 ${p50.toFixed(1)} ms · p95 ${p95.toFixed(1)} ms`;
  perf.title = `time to ingest and draw one animation frame's batch of events (last 300 frames with events; mean batch ${stats.batch.toFixed(0)} events; max ${stats.max.toFixed(1)} ms)${longFrames.supported ? `; frames over 50 ms (script, layout and paint): ${longFrames.count}, longest ${longFrames.max.toFixed(0)} ms` : ''}`;
  perf.dataset.longFrames = String(longFrames.count);
  perf.dataset.longestFrame = longFrames.max.toFixed(1);
  perf.dataset.p50 = p50.toFixed(2);
  perf.dataset.p95 = p95.toFixed(2);
  perf.dataset.max = stats.max.toFixed(2);
  perf.dataset.batch = stats.batch.toFixed(1);
  perf.dataset.frames = String(stats.total);
  perf.dataset.events = String(store.lastSeq + 1);
  perf.className = `perf ${p95 > 16 ? 'slow' : ''}`;
}

const scrub = $('scrub') as HTMLInputElement;

function renderTimeline(): void {
  scrub.min = String(store.base);
  scrub.max = String(Math.max(store.base, store.lastSeq));
  scrub.value = String(cursor ?? store.lastSeq);
  const liveButton = $('live');
  liveButton.classList.toggle('on', cursor === null);
  liveButton.textContent = mode.kind === 'file' ? '● End' : '● Live';
  liveButton.title = mode.kind === 'file' ? 'To the end of the recording (Esc)' : 'Back to the present (Esc)';
  document.body.classList.toggle('travelling', cursor !== null);
  const info = $('cursor-info');
  if (cursor === null) {
    const end = mode.kind === 'file' ? 'end of the recording' : 'live';
    info.textContent = `${end} · ${store.size > 0 ? clock(store.lastT) : mode.kind === 'file' ? 'no events' : 'waiting for events'}`;
  } else {
    const entry = store.entry(cursor);
    info.textContent = entry ? `${clock(entry.t)} · event ${count(cursor + 1)} of ${count(store.lastSeq + 1)} · ${((store.lastT - entry.t) / 1000).toFixed(1)} s before the last` : '';
  }
}

function setCursor(seq: number | null): void {
  cursor = seq === null || seq >= store.lastSeq ? null : Math.max(store.base, seq);
  markAll();
  lastPlot = 0;
}

scrub.addEventListener('input', () => setCursor(Number(scrub.value)));
$('live').addEventListener('click', () => setCursor(null));

/** The previous (or next) state change of the selected actor, or any event when none is selected. */
function step(direction: -1 | 1): void {
  const from = cursor ?? store.lastSeq;
  const node = selected;
  if (!node) return setCursor(from + direction);
  const seqs = node.sessions.flatMap((s) => s.snapshots).sort((a, b) => a - b);
  const target = direction < 0 ? [...seqs].reverse().find((s) => s < from) : seqs.find((s) => s > from);
  if (target === undefined) return direction > 0 ? setCursor(null) : undefined;
  flashNext = true;
  setCursor(target);
}
$('step-back').addEventListener('click', () => step(-1));
$('step-forward').addEventListener('click', () => step(1));
document.addEventListener('keydown', (e) => {
  if ((e.target as HTMLElement).closest('input, select, textarea')) return;
  if (e.key === 'ArrowLeft') step(-1);
  else if (e.key === 'ArrowRight') step(1);
  else if (e.key === 'Escape') setCursor(null);
});

// ─── Controls ───────────────────────────────────────────────────────────────────────────────────────

tree.onSelect = (node) => select(node);
($('tree-filter') as HTMLInputElement).addEventListener('input', (e) => {
  tree.setFilter((e.target as HTMLInputElement).value);
  markAll();
});
$('fit').addEventListener('click', () => chart.fit());
$('follow').addEventListener('click', () => chart.follow());
($('show-env') as HTMLInputElement).addEventListener('change', (e) => {
  chart.showEnvironment = (e.target as HTMLInputElement).checked;
  markAll();
});

const logActor = $('log-actor') as HTMLSelectElement;
const logType = $('log-type') as HTMLInputElement;
const logSearch = $('log-search') as HTMLInputElement;
function applyLogFilter(): void {
  const kinds = new Set<Kind>();
  for (const box of document.querySelectorAll<HTMLInputElement>('#kinds input')) if (box.checked) kinds.add(box.value as Kind);
  log.setFilter({ actor: logActor.value as 'all' | 'node' | 'subtree', node: selected, type: logType.value, search: logSearch.value, kinds });
  markAll();
}
for (const el of [logActor, logType, logSearch, ...document.querySelectorAll<HTMLInputElement>('#kinds input')]) el.addEventListener('input', applyLogFilter);

const pause = $('pause');
pause.addEventListener('click', () => {
  log.paused = !log.paused;
  pause.textContent = log.paused ? 'Resume' : 'Pause';
  pause.classList.toggle('on', log.paused);
  markAll();
});

log.onSelect = (entry: Entry) => {
  const { def: _def, definition: _definition, ...rest } = entry.rec;
  const target = $('payload');
  renderJson(target, rest, `${entry.kind} · ${entry.actor.name} · ${entry.type || '(init)'} — ${summary(entry)}`);
  const go = h('button', { class: 'small', text: 'Travel to this moment' });
  go.addEventListener('click', () => {
    select(entry.actor.node);
    tree.reveal(entry.actor.node);
    flashNext = true;
    setCursor(entry.seq);
  });
  target.prepend(go);
};

// Types seen so far, offered by the type filter.
setInterval(() => {
  const list = $('types');
  if (list.childElementCount === store.types.size) return;
  list.replaceChildren(...[...store.types.keys()].sort().map((t) => h('option', { value: t })));
}, 1_000);
setInterval(() => {
  dirty.header = true;
  schedule();
}, 1_000);

// ─── Export and import ──────────────────────────────────────────────────────────────────────────────

$('export').addEventListener('click', () => {
  const lines = store.exportRecords().map((record) => JSON.stringify(record));
  const blob = new Blob([`${lines.join('\n')}\n`], { type: 'application/x-ndjson' });
  const a = h('a', { href: URL.createObjectURL(blob), download: `socketchart-recording-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
});

($('import') as HTMLInputElement).addEventListener('change', async (e) => {
  const input = e.target as HTMLInputElement;
  const file = input.files?.[0];
  if (!file) return;
  let records: Rec[];
  try {
    records = parseRecording(await file.text());
  } catch (error) {
    return tell(`${file.name} could not be read, nothing changed: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    input.value = '';
  }
  if (records.length === 0) return tell(`${file.name} holds no inspection records, nothing changed`);
  if (!records.some((record) => ENTRY_TYPES.has(record.type))) return tell(`${file.name} holds no actors or events to show, nothing changed`);
  tell('');
  mode = { kind: 'live' };
  resetStore();
  mode = { kind: 'file', name: file.name };
  queue.push(records);
  $('back-live').hidden = false;
  markAll();
});
/** Says what became of an import (nothing when `message` is empty); a click puts it away. */
function tell(message: string): void {
  const note = $('import-note');
  note.textContent = message;
  note.title = `${message} (click to put away)`;
  note.hidden = message === '';
}
$('import-note').addEventListener('click', () => tell(''));
$('back-live').addEventListener('click', () => {
  mode = { kind: 'live' };
  $('back-live').hidden = true;
  resetStore();
  server.close();
  location.reload();
});

renderJson($('payload'), 'Click an event to see it here.');
renderJson($('context'), 'Select an actor in the tree.');
markAll();
