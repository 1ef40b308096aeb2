import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { MissingDependencyError, dependencies, dependencyLoader } from '../../../src/server/dependencies.js';

const empty = mkdtempSync(join(tmpdir(), 'socketchart-deps-'));
const nowhere = dependencyLoader(pathToFileURL(join(empty, 'index.js')));
afterAll(() => rmSync(empty, { recursive: true, force: true }));

const thrown = (run: () => unknown): MissingDependencyError => {
  try {
    run();
  } catch (error) {
    if (error instanceof MissingDependencyError) return error;
    throw error;
  }
  throw new Error('nothing was thrown');
};

describe('the server\'s dependencies (optional peers of socketchart)', () => {
  it('loads each of them where they are installed', () => {
    expect(dependencies.core<{ z: unknown }>('zod').z).toBeDefined();
    expect(typeof dependencies.core<{ pino: unknown }>('pino').pino).toBe('function');
    expect(typeof dependencies.core<{ Registry: unknown }>('prom-client').Registry).toBe('function');
    expect(typeof dependencies.load<{ Redis: unknown }>('ioredis', 'The redis option').Redis).toBe('function');
    expect(dependencies.installed('jose')).toBe(true);
  });

  it('a missing core dependency names every core dependency that is missing, and the command that installs them', () => {
    const error = thrown(() => nowhere.core('pino'));
    expect(error.code).toBe('ERR_SOCKETCHART_MISSING_DEPENDENCY');
    expect(error.missing).toEqual(['zod', 'pino', 'prom-client']);
    expect(error.message).toContain('socketchart/server needs packages that are not installed');
    expect(error.message).toContain('npm install zod pino prom-client');
  });

  it('a feature without its package names that package and the feature', () => {
    const error = thrown(() => nowhere.load('ioredis', 'The redis option'));
    expect(error.missing).toEqual(['ioredis']);
    expect(error.message).toMatch(/^The redis option needs a package that is not installed: ioredis \(scale-out over Redis/);
    expect(error.message).toContain('npm install ioredis');
    expect(thrown(() => nowhere.require('jose', 'createToken()')).message).toContain('createToken() needs a package that is not installed: jose');
  });

  it('reports nothing missing where everything is installed', () => {
    expect(() => dependencies.require('jose', 'createToken()')).not.toThrow();
    expect(nowhere.installed('zod')).toBe(false);
  });
});
