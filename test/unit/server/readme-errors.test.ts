import { readdirSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { ErrorCode } from '../../../src/protocol/errors.js';

/** src/server/README.md lists the error codes the server sends ("Error codes: `AUTHENTICATION_FAILED`, …"). */
const listed = (): string[] => {
  const list = /Error codes: ([\s\S]*?)\n\n/.exec(readFileSync('src/server/README.md', 'utf8'))?.[1] ?? '';
  return [...list.matchAll(/`([A-Z_]+)`/g)].map((match) => match[1]!);
};

const serverSources = (): string =>
  readdirSync('src/server', { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => readFileSync(`src/server/${file}`, 'utf8'))
    .join('\n');

it('the server README lists only error codes the server sends, each one a code of the wire', () => {
  const codes = listed();
  expect(codes.length).toBeGreaterThan(5);
  const sources = serverSources();
  expect(codes.filter((code) => !Object.hasOwn(ErrorCode, code))).toEqual([]);
  expect(codes.filter((code) => !sources.includes(`ErrorCode.${code}`))).toEqual([]);
});
