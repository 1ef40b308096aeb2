import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The inspector page could not be found: it is built by `npm run build` (into `dist/inspector/`). */
export class InspectorPageMissingError extends Error {
  override readonly name = 'InspectorPageMissingError';
  constructor(readonly searched: readonly string[]) {
    super(`The inspector page is not built (looked in ${searched.join(', ')}): run \`npm run build\``);
  }
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.map': 'application/json',
};

export interface PageFile {
  body: Buffer;
  type: string;
}

/**
 * The built page's directory: next to this module in the package (`dist/inspector/`), or the checkout's
 * `dist/inspector/` when running from source.
 */
export function defaultPageDir(): string {
  const here = new URL('.', import.meta.url);
  const candidates = [new URL('./inspector/', here), new URL('../../dist/inspector/', here)].map((url) => fileURLToPath(url));
  const found = candidates.find((dir) => existsSync(join(dir, 'index.html')));
  if (!found) throw new InspectorPageMissingError(candidates);
  return found;
}

/** Every file of the page, read once, by request path (`/` is `index.html`); nothing outside the directory is served. */
export function loadPageFiles(dir: string): Map<string, PageFile> {
  if (!existsSync(join(dir, 'index.html'))) throw new InspectorPageMissingError([dir]);
  const files = new Map<string, PageFile>();
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    const type = contentTypes[extname(name)];
    if (!type) continue;
    files.set(`/${name}`, { body: readFileSync(path), type });
  }
  files.set('/', files.get('/index.html')!);
  return files;
}
