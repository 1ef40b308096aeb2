import { appendFileSync, closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, type BigIntStats } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidOptionError } from '../protocol/errors.js';
import type { MessageStore, StoredMessage } from './message-store.js';
import { errorListener, microtaskBatch, optionsObject, report, toStoredMessage, type StoreErrorListener } from './shared.js';

export interface FileStoreOptions {
  /**
   * Path of the log file; it and its directory are created when missing, readable by their owner only
   * (0600, 0700). Give each connection that persists its own file, used by one process at a time.
   * `${path}.tmp` is used while compacting.
   */
  path: string;
  /**
   * Size in bytes past which the log is compacted while running, when more than half of it is
   * records of messages since deleted or replaced (it is always compacted by `load()`).
   * @default 1_048_576
   */
  compactAfterBytes?: number;
  /**
   * Flush every batch to the disk (`fsync`): the messages then survive a power loss too, not only a
   * crash of the process, at the cost of one disk flush per batch.
   * @default false
   */
  fsync?: boolean;
  /**
   * Told when the log cannot be written (disk full, permissions): the messages stay in this store's
   * memory, and the whole log is rewritten at the next batch.
   * @default undefined (failures are ignored)
   */
  onError?: StoreErrorListener;
}

/** A `MessageStore` in a file, with a synchronous `load()` and `close()`. */
export interface FileStore extends MessageStore {
  load(): StoredMessage[];
  close(): void;
}

/**
 * Node only. Keeps messages in an append-only log of JSON lines (`{"put":message}` /
 * `{"delete":key}`): each burst of `put` / `delete` is one append at the end of the current
 * microtask, so a crash loses at most that burst. `load()` replays the log (ignoring a line torn by
 * a crash) and rewrites it with the live messages only, through a temporary file and a rename. A log deleted
 * or moved away while the store runs is written again whole, from the messages it holds, at the next batch
 * (or `close()`).
 */
export function fileStore(options: FileStoreOptions): FileStore {
  const given = optionsObject(options, 'options');
  if (typeof given.path !== 'string' || given.path.length === 0) throw new InvalidOptionError('path', 'a non-empty string', given.path);
  const compactAfterBytes = given.compactAfterBytes ?? 1_048_576;
  if (typeof compactAfterBytes !== 'number' || !(compactAfterBytes >= 0) || compactAfterBytes === Infinity) {
    throw new InvalidOptionError('compactAfterBytes', 'a finite number >= 0', compactAfterBytes);
  }
  if (given.fsync !== undefined && typeof given.fsync !== 'boolean') throw new InvalidOptionError('fsync', 'a boolean', given.fsync);
  return new FileMessageStore(given.path, compactAfterBytes, given.fsync ?? false, errorListener(given.onError));
}

const putLine = (message: StoredMessage): string => `${JSON.stringify({ put: message })}\n`;
const deleteLine = (key: string): string => `${JSON.stringify({ delete: key })}\n`;

/** The queued messages are the app's data: the log is its owner's alone, and so is a directory made for it. */
const PRIVATE_FILE = 0o600;
const PRIVATE_DIRECTORY = { recursive: true, mode: 0o700 } as const;

class FileMessageStore implements FileStore {
  readonly #path: string;
  readonly #compactAfterBytes: number;
  readonly #fsync: boolean;
  readonly #onError: StoreErrorListener | undefined;
  readonly #schedule = microtaskBatch(() => this.#flush());
  /** Live messages and the size of their log line; known once the log has been loaded. */
  readonly #live = new Map<string, { message: StoredMessage; bytes: number }>();
  #loaded = false;
  #lines: string[] = [];
  #keys: string[] = [];
  #fd: number | undefined;
  #logBytes = 0;
  #liveBytes = 0;
  /** The log misses changes (a write failed): rewrite it whole from `#live`. */
  #rewrite = false;
  /** Device and inode of the file holding the log, once known: another file at the path, or none, means it was deleted or moved away. */
  #file: string | undefined;

  constructor(path: string, compactAfterBytes: number, fsync: boolean, onError: StoreErrorListener | undefined) {
    this.#path = path;
    this.#compactAfterBytes = compactAfterBytes;
    this.#fsync = fsync;
    this.#onError = onError;
  }

  load(): StoredMessage[] {
    if (!this.#loaded) this.#replay();
    if (this.#rewrite || this.#lines.length > 0 || this.#logBytes !== this.#liveBytes) {
      const keys = this.#keys;
      this.#lines = [];
      this.#keys = [];
      try {
        this.#compact();
      } catch (error) {
        this.#rewrite = true;
        report(this.#onError, error, keys);
      }
    }
    return [...this.#live.values()].map((entry) => entry.message).sort((a, b) => a.sentAt - b.sentAt);
  }

  put(message: StoredMessage): void {
    this.#queue(this.#loaded ? this.#remember(message) : putLine(message), message.key);
  }

  delete(key: string): void {
    if (this.#loaded && !this.#forget(key)) return;
    this.#queue(deleteLine(key), key);
  }

  close(): void {
    this.#flush(true);
    const fd = this.#fd;
    if (fd === undefined) return;
    this.#fd = undefined;
    try {
      fsyncSync(fd);
    } catch (error) {
      report(this.#onError, error, []);
    } finally {
      closeQuietly(fd);
    }
  }

  #queue(line: string, key: string): void {
    this.#lines.push(line);
    this.#keys.push(key);
    this.#schedule();
  }

  #remember(message: StoredMessage): string {
    const line = putLine(message);
    const bytes = Buffer.byteLength(line);
    this.#liveBytes += bytes - (this.#live.get(message.key)?.bytes ?? 0);
    this.#live.set(message.key, { message, bytes });
    return line;
  }

  #forget(key: string): boolean {
    const entry = this.#live.get(key);
    if (!entry) return false;
    this.#liveBytes -= entry.bytes;
    this.#live.delete(key);
    return true;
  }

  #replay(): void {
    let text = '';
    try {
      text = readFileSync(this.#path, 'utf8');
      this.#file ??= this.#fileAtPath();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const unwritten = this.#lines.join('');
    for (const line of `${text}\n${unwritten}`.split('\n')) {
      const record = parseLine(line);
      if (typeof record === 'string') this.#forget(record);
      else if (record) this.#remember(record);
    }
    this.#logBytes = Buffer.byteLength(text);
    this.#rewrite = unwritten.length > 0;
    this.#lines = [];
    this.#keys = [];
    this.#loaded = true;
  }

  /** Writes the batch; `closing`: even an empty one, so that a log deleted since the last batch is written again. */
  #flush(closing = false): void {
    if (this.#lines.length === 0 && !this.#rewrite && !closing) return;
    const chunk = this.#lines.join('');
    const keys = this.#keys;
    this.#lines = [];
    this.#keys = [];
    try {
      const bytes = Buffer.byteLength(chunk);
      const size = this.#logBytes + bytes;
      if (this.#loaded && (this.#rewrite || this.#moved() || (size > this.#compactAfterBytes && size > 2 * this.#liveBytes))) this.#compact();
      else if (bytes > 0) this.#append(chunk, bytes);
    } catch (error) {
      if (this.#loaded) this.#rewrite = true;
      else {
        this.#lines = [chunk];
        this.#keys = keys;
      }
      report(this.#onError, error, keys);
    }
  }

  #append(chunk: string, bytes: number): void {
    const fd = this.#open();
    try {
      appendFileSync(fd, chunk);
      if (this.#fsync) fsyncSync(fd);
    } catch (error) {
      this.#fd = undefined;
      closeQuietly(fd);
      throw error;
    }
    this.#logBytes += bytes;
  }

  #open(): number {
    if (this.#fd !== undefined) return this.#fd;
    mkdirSync(dirname(this.#path), PRIVATE_DIRECTORY);
    const fd = openSync(this.#path, 'a+', PRIVATE_FILE);
    try {
      if (this.#fsync) syncDirectory(this.#path);
      const stats = fstatSync(fd, { bigint: true });
      this.#file = fileId(stats);
      const size = Number(stats.size);
      const last = Buffer.alloc(1);
      if (size > 0 && readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 0x0a) {
        appendFileSync(fd, '\n');
        this.#logBytes += 1;
      }
    } catch (error) {
      closeQuietly(fd);
      throw error;
    }
    this.#fd = fd;
    return fd;
  }

  /** The log's file is no longer at the path (one stat). */
  #moved(): boolean {
    return this.#file !== undefined && this.#fileAtPath() !== this.#file;
  }

  #fileAtPath(): string | undefined {
    return fileId(statSync(this.#path, { bigint: true, throwIfNoEntry: false }));
  }

  #compact(): void {
    if (this.#fd !== undefined) {
      closeQuietly(this.#fd);
      this.#fd = undefined;
    }
    let text = '';
    for (const { message } of this.#live.values()) text += putLine(message);
    const temporary = `${this.#path}.tmp`;
    mkdirSync(dirname(this.#path), PRIVATE_DIRECTORY);
    const fd = openSync(temporary, 'w', PRIVATE_FILE);
    let file: string | undefined;
    try {
      appendFileSync(fd, text);
      fsyncSync(fd);
      file = fileId(fstatSync(fd, { bigint: true }));
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, this.#path);
    if (this.#fsync) syncDirectory(this.#path);
    this.#file = file;
    this.#logBytes = Buffer.byteLength(text);
    this.#rewrite = false;
  }
}

/** Makes the entry of the file at `path` in its directory durable (a created or renamed file survives a power loss), where a directory can be opened (not on Windows). */
function syncDirectory(path: string): void {
  let fd: number;
  try {
    fd = openSync(dirname(path), 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } finally {
    closeQuietly(fd);
  }
}

/** Tells one file from another. */
const fileId = (stats: BigIntStats | undefined): string | undefined => stats && `${stats.dev}:${stats.ino}`;

function parseLine(line: string): StoredMessage | string | undefined {
  if (line.length === 0) return undefined;
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof record !== 'object' || record === null) return undefined;
  const { put, delete: key } = record as Record<string, unknown>;
  return typeof key === 'string' ? key : toStoredMessage(put);
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* already closed or unusable: nothing left to release */
  }
}
