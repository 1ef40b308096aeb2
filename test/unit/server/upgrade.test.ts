import { Duplex } from 'node:stream';
import { expect, it } from 'vitest';
import { rejectHttp } from '../../../src/server/upgrade.js';

/** A socket that keeps what is written to it. */
function socket() {
  const written: string[] = [];
  const duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      written.push(chunk.toString());
      callback();
    },
  });
  return { duplex, written };
}

const closed = (duplex: Duplex) => new Promise<void>((resolve) => duplex.once('close', () => resolve()));

it('answers a refused upgrade with a plain HTTP status, then closes the socket', async () => {
  const { duplex, written } = socket();
  const done = closed(duplex);
  rejectHttp(duplex, 403);
  await done;
  expect(written.join('')).toBe('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nForbidden');
  expect(duplex.destroyed).toBe(true);
});

it('names a status without a reason phrase Error', async () => {
  const { duplex, written } = socket();
  const done = closed(duplex);
  rejectHttp(duplex, 599);
  await done;
  expect(written.join('')).toMatch(/^HTTP\/1\.1 599 Error\r\n[\s\S]*Content-Length: 5\r\n\r\nError$/);
});

it('destroys a socket that can no longer be written, writing nothing', () => {
  const { duplex, written } = socket();
  duplex.end();
  rejectHttp(duplex, 503);
  expect(duplex.destroyed).toBe(true);
  expect(written).toEqual([]);
});
