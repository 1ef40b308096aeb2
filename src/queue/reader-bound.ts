import { InvalidOptionError } from '../protocol/errors.js';

/** What an iterator does when its reader falls `bufferSize` items behind. */
export type ReaderOverflow = 'error' | 'drop-oldest' | 'drop-newest';

export interface ReaderBound {
  /** Most items held for a reader that is behind. @default 1000 */
  bufferSize?: number;
  /**
   * When `bufferSize` items wait: end the iteration with QUEUE_OVERFLOW (`'error'`), forget the oldest
   * waiting item (`'drop-oldest'`) or the new one (`'drop-newest'`).
   * @default 'error'
   */
  overflow?: ReaderOverflow;
}

/** The bound an iterator's options ask for, checked (InvalidOptionError on `bufferSize` or `overflow`). */
export function readerBound({ bufferSize = 1000, overflow = 'error' }: ReaderBound): Required<ReaderBound> {
  if (!Number.isInteger(bufferSize) || bufferSize < 1) throw new InvalidOptionError('bufferSize', 'an integer >= 1', bufferSize);
  if (overflow !== 'error' && overflow !== 'drop-oldest' && overflow !== 'drop-newest') {
    throw new InvalidOptionError('overflow', "'error', 'drop-oldest' or 'drop-newest'", overflow);
  }
  return { bufferSize, overflow };
}
