import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InspectorPageMissingError, loadPageFiles } from '../../../src/inspection/page-files.js';
import { standInPage } from './support.js';

describe('the inspector page’s files', () => {
  it('are the files of known types in the page directory: not its subdirectories, nor other files lying there', () => {
    const dir = standInPage();
    mkdirSync(join(dir, 'chunks.js'));
    writeFileSync(join(dir, '.env'), 'PASSWORD=secret');
    writeFileSync(join(dir, 'notes.txt'), 'private');
    const files = loadPageFiles(dir);
    expect([...files.keys()].sort()).toEqual(['/', '/app.js', '/index.html']);
    expect(files.get('/')).toBe(files.get('/index.html'));
    expect(files.get('/app.js')?.type).toBe('text/javascript; charset=utf-8');
  });

  it('without an index.html, are missing: the error says to run `npm run build`', () => {
    const dir = mkdtempSync(join(tmpdir(), 'socketchart-page-'));
    writeFileSync(join(dir, 'app.js'), 'void 0;');
    expect(() => loadPageFiles(dir)).toThrow(InspectorPageMissingError);
    expect(() => loadPageFiles(dir)).toThrow(/npm run build/);
  });
});
