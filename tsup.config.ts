import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { defineConfig, type Options } from 'tsup';

const outDir = 'dist';

const shared = {
  outDir,
  sourcemap: true,
  target: 'es2022',
  shims: true,
  external: ['ws', 'xstate', 'rxjs', 'jose', 'zod', 'pino', 'prom-client', 'ioredis', 'react', '@xstate/react', 'vue'],
} satisfies Options;

export default defineConfig([
  {
    ...shared,
    entry: {
      index: 'src/index.ts',
      'index.node': 'src/index.node.ts',
      testing: 'src/testing/index.ts',
      server: 'src/server/index.ts',
      react: 'src/react/index.ts',
      vue: 'src/vue/index.ts',
      rx: 'src/rx/index.ts',
      inspect: 'src/inspection/index.ts',
      inspector: 'src/inspection/node.ts',
    },
    format: ['esm', 'cjs'],
    dts: {
      // Connection and Pool have `[Symbol.dispose]` / `[Symbol.asyncDispose]`: the types of every entry bring the
      // lib that declares them, for projects whose `lib` lacks it (a browser app with ES2022 + DOM, no Node types).
      // A banner: a `/// <reference lib>` in a source file would land mid-chunk, where its module's declarations
      // are put, and TypeScript ignores a directive that is not at the top of the file.
      banner: '/// <reference lib="esnext.disposable" preserve="true" />',
    },
    // Leaves the CLI of the second build alone (the two builds run at once).
    clean: ['!cli.js', '!cli.js.map'],
    splitting: true,
    onSuccess: async () => relativeCjsSourceMaps(outDir),
  },
  {
    // The bin (`socketchart`): ESM only, no types, nothing imports it.
    ...shared,
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    dts: false,
    clean: false,
  },
]);

/**
 * tsup turns the ESM chunks of the CommonJS build into CommonJS with sucrase, whose source map names the chunk
 * by its absolute path (`/…/dist/index.cjs`) as `file` and as a source; merged into esbuild's map, the code
 * sucrase adds (`require`s, `exports`) stays mapped to that source, which exists nowhere, with no content.
 * Each such map gets its own file name as `file`, and that code is left unmapped.
 */
function relativeCjsSourceMaps(dir: string): void {
  for (const name of readdirSync(dir).filter((file) => file.endsWith('.cjs.map'))) {
    const path = join(dir, name);
    const generated = resolve(dir, name.slice(0, -'.map'.length));
    const map = JSON.parse(readFileSync(path, 'utf8')) as SourceMap;
    const sources = map.sources.map((source) => resolve(dir, map.sourceRoot ?? '', source));
    const own = sources.indexOf(generated);
    if (own < 0 && map.file === basename(generated)) continue;
    map.file = basename(generated);
    if (own >= 0) {
      map.sources.splice(own, 1);
      map.sourcesContent?.splice(own, 1);
      map.mappings = withoutSource(map.mappings, own);
    }
    writeFileSync(path, JSON.stringify(map));
  }
}

interface SourceMap {
  file?: string;
  sourceRoot?: string;
  sources: string[];
  sourcesContent?: Array<string | null>;
  mappings: string;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** `mappings` with the segments of source `removed` unmapped and the later sources renumbered. */
function withoutSource(mappings: string, removed: number): string {
  // Decoded to absolute values: [column] or [column, source, line, column, name?].
  const state = [0, 0, 0, 0];
  const lines = mappings.split(';').map((line) => {
    state[0] = 0;
    return line === ''
      ? []
      : line.split(',').map((segment) => {
          const values = decodeVlq(segment);
          return values.map((value, index) => (state[index] = (state[index] ?? 0) + value));
        });
  });
  const previous = [0, 0, 0, 0, 0];
  return lines
    .map((segments) => {
      previous[0] = 0;
      return segments
        .map((segment) => {
          if (segment.length > 1 && segment[1] === removed) segment = [segment[0]!];
          else if (segment.length > 1 && segment[1]! > removed) segment = [segment[0]!, segment[1]! - 1, ...segment.slice(2)];
          return segment
            .map((value, index) => {
              const delta = value - previous[index]!;
              previous[index] = value;
              return encodeVlq(delta);
            })
            .join('');
        })
        .join(',');
    })
    .join(';');
}

function decodeVlq(segment: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const char of segment) {
    const digit = BASE64.indexOf(char);
    if (digit < 0) throw new Error(`source map: not base64: ${char}`);
    value += (digit & 31) * 2 ** shift;
    if (digit & 32) {
      shift += 5;
    } else {
      values.push(value % 2 === 1 ? -(value - 1) / 2 : value / 2);
      value = 0;
      shift = 0;
    }
  }
  return values;
}

function encodeVlq(value: number): string {
  let rest = value < 0 ? -value * 2 + 1 : value * 2;
  let text = '';
  do {
    let digit = rest % 32;
    rest = Math.floor(rest / 32);
    if (rest > 0) digit |= 32;
    text += BASE64[digit];
  } while (rest > 0);
  return text;
}
