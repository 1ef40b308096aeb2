import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { fileStore, type FileStoreOptions } from '../../../src/storage/file-store.js';
import { keysOf, message, temporaryDirectory, tick, invalidOption } from './support.js';

/** The fsyncs (by the path the descriptor was opened on) and renames the store makes while `on`; the descriptors it holds open; fsyncs fail while `failFsync`. */
const disk = vi.hoisted(() => ({ on: false, log: [] as string[], open: new Set<number>(), failFsync: false }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const opened = new Map<number, string>();
  return {
    ...fs,
    openSync: ((...args: Parameters<typeof fs.openSync>) => {
      const fd = fs.openSync(...args);
      opened.set(fd, String(args[0]));
      disk.open.add(fd);
      return fd;
    }) as typeof fs.openSync,
    closeSync: (fd: number) => {
      fs.closeSync(fd);
      disk.open.delete(fd);
    },
    fsyncSync: (fd: number) => {
      if (disk.failFsync) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
      if (disk.on) disk.log.push(`fsync ${opened.get(fd)}`);
      fs.fsyncSync(fd);
    },
    renameSync: (from: import('node:fs').PathLike, to: import('node:fs').PathLike) => {
      if (disk.on) disk.log.push(`rename ${String(to)}`);
      fs.renameSync(from, to);
    },
  };
});

const directories: Array<{ remove(): void }> = [];

afterEach(() => {
  for (const directory of directories.splice(0)) directory.remove();
});

function logPath(name = 'outbox.jsonl'): string {
  const directory = temporaryDirectory();
  directories.push(directory);
  return join(directory.path, name);
}

const lines = (path: string): string[] => readFileSync(path, 'utf8').split('\n').filter(Boolean);

it('validates its options at creation', () => {
  const path = logPath();
  expect(invalidOption(() => fileStore(undefined as unknown as FileStoreOptions)).option).toBe('path');
  expect(invalidOption(() => fileStore({ path: '' })).option).toBe('path');
  expect(invalidOption(() => fileStore({ path, compactAfterBytes: -1 })).option).toBe('compactAfterBytes');
  expect(invalidOption(() => fileStore({ path, compactAfterBytes: Number.NaN })).option).toBe('compactAfterBytes');
  expect(invalidOption(() => fileStore({ path, compactAfterBytes: Infinity })).option).toBe('compactAfterBytes');
  expect(invalidOption(() => fileStore({ path, compactAfterBytes: '1024' as unknown as number })).option).toBe('compactAfterBytes');
  expect(invalidOption(() => fileStore({ path, fsync: 'yes' } as unknown as FileStoreOptions)).option).toBe('fsync');
  expect(invalidOption(() => fileStore({ path, onError: {} } as unknown as FileStoreOptions)).option).toBe('onError');
  expect(existsSync(path), 'creating a store touches no file').toBe(false);
});

it('creates its log readable and writable by its owner only, and keeps it so when it compacts it', async () => {
  const path = join(logPath(), '..', 'private', 'outbox.jsonl');
  const mode = () => statSync(path).mode & 0o777;
  const store = fileStore({ path, compactAfterBytes: 0 });
  store.put(message('a'));
  await tick();
  expect(mode()).toBe(0o600);
  expect(statSync(dirname(path)).mode & 0o777, 'the directory it made').toBe(0o700);
  expect(store.load()).toHaveLength(1);
  store.put(message('b'));
  store.delete('a');
  await tick();
  expect(lines(path), 'compacted').toEqual([JSON.stringify({ put: message('b') })]);
  expect(mode()).toBe(0o600);
  store.close();
});

it('closes its log on close() even when the last fsync fails, and reports the failure', async () => {
  const path = logPath();
  const errors: unknown[] = [];
  const before = new Set(disk.open);
  const store = fileStore({ path, onError: (error) => errors.push(error) });
  store.load();
  store.put(message('a'));
  await tick();
  const held = [...disk.open].filter((fd) => !before.has(fd));
  expect(held.length, 'the log is open').toBeGreaterThan(0);
  disk.failFsync = true;
  try {
    store.close();
  } finally {
    disk.failFsync = false;
  }
  expect(held.filter((fd) => disk.open.has(fd)), 'descriptors left open').toEqual([]);
  expect(errors).toHaveLength(1);
});

it('creates the file and its directory on the first write', async () => {
  const path = join(logPath(), '..', 'nested', 'deeper', 'outbox.jsonl');
  const store = fileStore({ path });
  expect(store.load()).toEqual([]);
  store.put(message('a'));
  await tick();
  expect(lines(path)).toEqual([JSON.stringify({ put: message('a') })]);
  store.close();
});

it('appends one JSON line per put / delete, a whole burst at the end of the microtask', async () => {
  const path = logPath();
  const store = fileStore({ path });
  store.load();
  for (let i = 0; i < 50; i++) store.put(message(`m${i}`));
  store.delete('m0');
  expect(existsSync(path), 'nothing written before the microtask ends').toBe(false);
  await Promise.resolve();
  expect(lines(path)).toHaveLength(51);
  expect(lines(path).at(-1)).toBe('{"delete":"m0"}');
  store.close();
});

it('a crash loses at most the burst not yet written', async () => {
  const path = logPath();
  const snapshot = `${path}.crash`;
  const store = fileStore({ path });
  store.load();
  store.put(message('a'));
  store.put(message('b'));
  await tick();
  store.put(message('c'));
  store.delete('a');
  copyFileSync(path, snapshot);
  expect(keysOf(fileStore({ path: snapshot }).load())).toEqual(['a', 'b']);
  store.close();
  expect(keysOf(fileStore({ path }).load())).toEqual(['b', 'c']);
});

it('ignores a line torn by a crash, and appends after it safely', async () => {
  const path = logPath();
  const whole = [message('a'), message('b')].map((m) => JSON.stringify({ put: m })).join('\n');
  writeFileSync(path, `${whole}\n${JSON.stringify({ put: message('torn') }).slice(0, 30)}`);
  const before = fileStore({ path });
  before.put(message('c'));
  await tick();
  before.close();
  const store = fileStore({ path });
  expect(keysOf(store.load())).toEqual(['a', 'b', 'c']);
  expect(lines(path).every((line) => JSON.parse(line) !== undefined), 'the torn line is gone').toBe(true);
  expect(lines(path)).toHaveLength(3);
  store.close();
});

it('skips lines it cannot read anywhere in the log', () => {
  const path = logPath();
  writeFileSync(
    path,
    [
      JSON.stringify({ put: message('a') }),
      'garbage',
      '42',
      'null',
      '"text"',
      JSON.stringify({ put: { ...message('bad'), sentAt: 'yesterday' } }),
      JSON.stringify({ delete: 7 }),
      JSON.stringify({ put: message('b') }),
      '',
    ].join('\n'),
  );
  expect(keysOf(fileStore({ path }).load())).toEqual(['a', 'b']);
});

it('load() compacts the log: only live messages are left, through a temporary file, and the file shrinks', async () => {
  const path = logPath();
  const first = fileStore({ path });
  first.load();
  for (let i = 0; i < 200; i++) first.put(message(`m${i}`, i));
  await tick();
  for (let i = 0; i < 190; i++) first.delete(`m${i}`);
  first.close();
  const grown = statSync(path).size;
  expect(lines(path)).toHaveLength(390);
  const second = fileStore({ path });
  const loaded = second.load();
  expect(keysOf(loaded)).toEqual(Array.from({ length: 10 }, (_, i) => `m${190 + i}`));
  expect(statSync(path).size).toBeLessThan(grown / 10);
  expect(lines(path)).toEqual(loaded.map((m) => JSON.stringify({ put: m })));
  expect(existsSync(`${path}.tmp`)).toBe(false);
  second.close();
  expect(keysOf(fileStore({ path }).load())).toEqual(keysOf(loaded));
});

it('does not rewrite a log that is already compact', () => {
  const path = logPath();
  const store = fileStore({ path });
  store.put(message('a'));
  store.close();
  fileStore({ path }).load();
  const compact = statSync(path);
  fileStore({ path }).load();
  expect(statSync(path).ino).toBe(compact.ino);
});

it('compacts while running once the log is past compactAfterBytes and mostly dead', async () => {
  const path = logPath();
  const store = fileStore({ path, compactAfterBytes: 4_096 });
  store.load();
  store.put(message('keeper', 0));
  for (let round = 0; round < 200; round++) {
    store.put(message(`r${round}`, round + 1));
    store.put(message('keeper', 0, { frame: `round ${round}` }));
    await Promise.resolve();
    store.delete(`r${round}`);
    await Promise.resolve();
  }
  expect(statSync(path).size).toBeLessThan(2 * 4_096);
  store.close();
  expect(fileStore({ path }).load()).toEqual([message('keeper', 0, { frame: 'round 199' })]);
});

const removals: ReadonlyArray<[string, (path: string) => void]> = [
  ['deleted', (path) => unlinkSync(path)],
  ['moved away', (path) => renameSync(path, `${path}.moved`)],
];

it('a log deleted or moved away while the store runs is written again whole at the next batch, reporting nothing', async () => {
  for (const [how, remove] of removals) {
    const path = logPath();
    const errors: unknown[] = [];
    const store = fileStore({ path, onError: (error) => errors.push(error) });
    store.load();
    store.put(message('a', 1));
    store.put(message('b', 2));
    await tick();
    remove(path);
    store.put(message('c', 3));
    store.delete('a');
    await tick();
    expect(keysOf(fileStore({ path }).load()), how).toEqual(['b', 'c']);
    expect(errors, how).toEqual([]);
    const rewritten = statSync(path).ino;
    store.put(message('d', 4));
    await tick();
    expect(statSync(path).ino, `${how}: later batches are appended`).toBe(rewritten);
    store.close();
    expect(keysOf(fileStore({ path }).load()), how).toEqual(['b', 'c', 'd']);
  }
});

it('a log deleted after load(), before the store wrote to it, is written again whole at the next batch', async () => {
  const path = logPath();
  const previous = fileStore({ path });
  previous.put(message('a', 1));
  previous.close();
  const store = fileStore({ path });
  expect(keysOf(store.load())).toEqual(['a']);
  unlinkSync(path);
  store.put(message('b', 2));
  await tick();
  expect(keysOf(fileStore({ path }).load())).toEqual(['a', 'b']);
  store.close();
});

it('a log deleted after a compaction while running is written again whole at the next batch', async () => {
  const path = logPath();
  const store = fileStore({ path, compactAfterBytes: 0 });
  store.load();
  store.put(message('a', 1));
  await tick();
  store.put(message('b', 2));
  store.delete('a');
  await tick();
  expect(lines(path), 'compacted').toEqual([JSON.stringify({ put: message('b', 2) })]);
  unlinkSync(path);
  store.put(message('c', 3));
  await tick();
  expect(keysOf(fileStore({ path }).load())).toEqual(['b', 'c']);
  store.close();
});

it('a log deleted after the last batch is written again whole by close()', async () => {
  const path = logPath();
  const store = fileStore({ path });
  store.load();
  store.put(message('a', 1));
  await tick();
  unlinkSync(path);
  store.close();
  expect(keysOf(fileStore({ path }).load())).toEqual(['a']);
});

/** A store that wrote `a`, whose directory was then replaced by a file: its next writes fail until the directory is back. */
async function storeWhoseDirectoryIsGone() {
  const directory = join(logPath(), '..', 'sub');
  const path = join(directory, 'outbox.jsonl');
  const errors: Array<readonly string[]> = [];
  const store = fileStore({ path, compactAfterBytes: 0, onError: (_error, keys) => errors.push(keys) });
  store.load();
  store.put(message('a', 1));
  await tick();
  rmSync(directory, { recursive: true });
  writeFileSync(directory, 'not a directory');
  return { directory, path, errors, store };
}

it('when a write fails it reports through onError, keeps the messages, and rewrites the whole log at the next batch', async () => {
  const { directory, path, errors, store } = await storeWhoseDirectoryIsGone();
  expect(() => {
    store.put(message('b', 2));
    store.delete('a');
  }).not.toThrow();
  await tick();
  expect(errors).toEqual([['b', 'a']]);
  expect(keysOf(store.load())).toEqual(['b']);
  rmSync(directory);
  mkdirSync(directory);
  store.put(message('c', 3));
  await tick();
  expect(errors).toHaveLength(2);
  expect(lines(path)).toEqual([message('b', 2), message('c', 3)].map((m) => JSON.stringify({ put: m })));
  store.close();
  expect(keysOf(fileStore({ path }).load())).toEqual(['b', 'c']);
});

it('close() makes good a write that failed: a restart sees what the store held, not what the failed write missed', async () => {
  const { directory, path, errors, store } = await storeWhoseDirectoryIsGone();
  store.put(message('b', 2));
  store.delete('a');
  await tick();
  expect(errors).toEqual([['b', 'a']]);
  rmSync(directory);
  mkdirSync(directory);
  store.close();
  expect(keysOf(fileStore({ path }).load())).toEqual(['b']);
});

it('a message replaced again and again is compacted while running: the log stays small', async () => {
  const path = logPath();
  const store = fileStore({ path, compactAfterBytes: 1_024 });
  store.load();
  for (let round = 0; round < 200; round++) {
    store.put(message('draft', 0, { frame: `round ${round}` }));
    await tick();
  }
  expect(statSync(path).size).toBeLessThan(2_048);
  store.close();
  expect(fileStore({ path }).load()).toEqual([message('draft', 0, { frame: 'round 199' })]);
});

it('a delete of a key it does not hold writes nothing', async () => {
  const path = logPath();
  const store = fileStore({ path });
  store.load();
  store.delete('nobody');
  await tick();
  store.close();
  expect(existsSync(path)).toBe(false);
});

it('changes made before load() that cannot be written are reported, kept, and written by a later batch', async () => {
  const directory = join(logPath(), '..', 'sub');
  const path = join(directory, 'outbox.jsonl');
  writeFileSync(directory, 'not a directory');
  const errors: Array<readonly string[]> = [];
  const store = fileStore({ path, onError: (_error, keys) => errors.push(keys) });
  store.put(message('a', 1));
  await tick();
  expect(errors).toEqual([['a']]);
  rmSync(directory);
  mkdirSync(directory);
  store.put(message('b', 2));
  await tick();
  expect(errors).toHaveLength(1);
  expect(keysOf(fileStore({ path }).load())).toEqual(['a', 'b']);
  store.close();
});

it('load() throws when the log exists but cannot be read', () => {
  const path = logPath();
  mkdirSync(path);
  expect(() => fileStore({ path }).load()).toThrow(/EISDIR/);
});

it('close() writes the pending burst synchronously', () => {
  const path = logPath();
  const store = fileStore({ path, fsync: true });
  store.load();
  store.put(message('a'));
  store.close();
  expect(keysOf(fileStore({ path }).load())).toEqual(['a']);
});

it('keeps appending while most of the log is live, however far past compactAfterBytes it grows', async () => {
  const path = logPath();
  const store = fileStore({ path, compactAfterBytes: 1_024 });
  store.load();
  store.put(message('first', 0));
  await tick();
  const appendedTo = statSync(path).ino;
  for (let index = 1; index < 60; index++) {
    store.put(message(`m${index}`, index));
    await tick();
  }
  store.delete('first');
  await tick();
  expect(statSync(path).size).toBeGreaterThan(4 * 1_024);
  expect(statSync(path).ino, 'the log was rewritten').toBe(appendedTo);
  expect(lines(path)).toHaveLength(61);
  store.close();
});

it('close() releases the file it appended through, and reports nothing when it wrote nothing', async () => {
  const openFiles = () => readdirSync('/proc/self/fd').length;
  const errors: unknown[] = [];
  const before = openFiles();
  const idle = fileStore({ path: logPath(), onError: (error) => errors.push(error) });
  idle.load();
  idle.close();
  const store = fileStore({ path: logPath(), onError: (error) => errors.push(error) });
  store.load();
  store.put(message('a'));
  await tick();
  expect(openFiles()).toBe(before + 1);
  store.close();
  expect(openFiles()).toBe(before);
  expect(errors).toEqual([]);
});

it('with fsync, makes the log\'s directory entry durable too: when it creates the log, and after the rename of a compaction', () => {
  const path = logPath();
  disk.log.length = 0;
  disk.on = true;
  try {
    const early = fileStore({ path, fsync: true });
    early.put(message('a'));
    early.put(message('b'));
    early.delete('b');
    early.close();
    expect(disk.log).toContain(`fsync ${dirname(path)}`);
    disk.log.length = 0;
    const store = fileStore({ path, fsync: true });
    store.load();
    expect(disk.log.slice(disk.log.indexOf(`rename ${path}`))).toEqual([`rename ${path}`, `fsync ${dirname(path)}`]);
    store.close();
    disk.log.length = 0;
    const plain = fileStore({ path });
    plain.delete('a');
    plain.load();
    plain.put(message('c'));
    plain.close();
    expect(disk.log).toContain(`rename ${path}`);
    expect(disk.log).not.toContain(`fsync ${dirname(path)}`);
  } finally {
    disk.on = false;
  }
});
