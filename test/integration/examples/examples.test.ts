import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examples, problemsOf, runExample, startExampleServers } from '../../../examples/examples.mjs';

/**
 * The READMEs' examples are files in examples/: each README block marked `<!-- example: examples/x.ts -->` is
 * the `#region readme` of that file, word for word, and every file runs as it is written against the
 * servers the READMEs set up (the reference server configured as src/server/README.md shows).
 */

const root = fileURLToPath(new URL('../../../', import.meta.url));
const readmes = ['README.md', 'src/server/README.md'];

/** Every marked block of the READMEs: the file it names and the code under the marker. */
function markedBlocks(): Array<{ readme: string; file: string; code: string }> {
  const blocks = [];
  for (const readme of readmes) {
    const text = readFileSync(`${root}${readme}`, 'utf8');
    for (const match of text.matchAll(/<!-- example: (\S+) -->\n```ts\n([\s\S]*?)```/g)) blocks.push({ readme, file: match[1]!, code: match[2]! });
  }
  return blocks;
}

const regionOf = (file: string): string | undefined => /\/\/ #region readme\n([\s\S]*?)\/\/ #endregion\n/.exec(readFileSync(`${root}${file}`, 'utf8'))?.[1];

describe('README examples are files that run', () => {
  it('every marked README block is the readme region of the file it names, word for word', () => {
    const blocks = markedBlocks();
    expect(blocks.length).toBeGreaterThanOrEqual(8);
    for (const { readme, file, code } of blocks) expect(regionOf(file), `${readme} → ${file}`).toBe(code);
  });

  it('every example file with a readme region is shown in a README', () => {
    const shown = new Set(markedBlocks().map(({ file }) => file));
    const withRegion = readdirSync(`${root}examples`)
      .filter((name) => name.endsWith('.ts'))
      .map((name) => `examples/${name}`)
      .filter((file) => regionOf(file) !== undefined);
    expect(withRegion.filter((file) => !shown.has(file))).toEqual([]);
  });

  it('the side-by-side table of the README has a row for each figure it compares', () => {
    const readme = readFileSync(`${root}README.md`, 'utf8');
    const table = /### Side by side with the field[\s\S]*?```text\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const figures = ['receive msgs/s', 'send msgs/s', 'heap per connection', 'restart: all 1,000 back', 'restart: peak new connections', 'server fan-out', 'server delivery latency', 'browser bundle'];
    expect(figures.filter((figure) => !table.split('\n').some((line) => line.startsWith(figure) && /\d/.test(line)))).toEqual([]);
  });

  describe('run as written against the example servers', () => {
    let stopServers: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      stopServers = await startExampleServers('examples', root);
    }, 60_000);
    afterAll(async () => {
      await stopServers?.();
    });

    for (const example of examples) {
      it(`${example.file} exits 0 and prints what it shows`, async () => {
        const result = await runExample('examples', example.file, root);
        expect(problemsOf(example, result)).toEqual([]);
      }, 30_000);
    }
  });
});
