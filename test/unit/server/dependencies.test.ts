import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MissingDependencyError, dependencies, dependencyLoader, serverDependencies, type ServerDependency } from '../../../src/server/dependencies.js';

const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

/** A folder whose node_modules holds stand-ins of `packages` (name → version); the loader resolves from it. */
function folderWith(packages: Partial<Record<ServerDependency, string>>) {
  const root = mkdtempSync(join(tmpdir(), 'socketchart-deps-'));
  folders.push(root);
  for (const [name, version] of Object.entries(packages)) {
    const dir = join(root, 'node_modules', name);
    mkdirSync(join(dir, 'dist'), { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version, main: 'dist/index.js' }));
    // as many packages do: a package.json of the build's own, with no name, next to the entry
    writeFileSync(join(dir, 'dist', 'package.json'), JSON.stringify({ type: 'commonjs' }));
    writeFileSync(join(dir, 'dist', 'index.js'), 'module.exports = {};');
  }
  const require = createRequire(join(root, 'index.js'));
  return dependencyLoader((name) => require.resolve(name));
}

const thrown = (run: () => unknown): MissingDependencyError => {
  try {
    run();
  } catch (error) {
    if (error instanceof MissingDependencyError) return error;
    throw error;
  }
  throw new Error('nothing was thrown');
};

describe("the server's dependencies (optional peers of socketchart)", () => {
  it('loads each of them where they are installed', () => {
    expect(dependencies.core<{ z: unknown }>('zod').z).toBeDefined();
    expect(typeof dependencies.core<{ pino: unknown }>('pino').pino).toBe('function');
    expect(typeof dependencies.core<{ Registry: unknown }>('prom-client').Registry).toBe('function');
    expect(typeof dependencies.load<{ Redis: unknown }>('ioredis', 'The redis option').Redis).toBe('function');
    expect(() => dependencies.require('jose', 'createToken()')).not.toThrow();
  });

  it('a missing core dependency names every core dependency that is missing, the command that installs them, and the packages of the features', () => {
    const error = thrown(() => folderWith({}).core('pino'));
    expect(error.code).toBe('ERR_SOCKETCHART_MISSING_DEPENDENCY');
    expect(error.name).toBe('MissingDependencyError');
    expect(error.missing).toEqual(['zod', 'pino', 'prom-client']);
    expect(error.message).toBe(
      'socketchart/server needs packages that are not installed: zod (validating frames and options), pino (the default logger), prom-client (the /metrics endpoint). ' +
        'Install: npm install zod@4 pino@10 prom-client@15 (add jose for JWT auth and createToken(), ioredis for scale-out over Redis)',
    );
  });

  it('names only what is missing', () => {
    expect(thrown(() => folderWith({ zod: '4.1.0', pino: '10.0.0' }).core('zod')).missing).toEqual(['prom-client']);
  });

  it('reads the version from the package\'s own package.json, not from one its build keeps next to the entry', () => {
    const current = folderWith({ zod: '4.1.0', pino: '10.0.0', 'prom-client': '15.1.0', jose: '6.0.0' });
    expect(() => current.require('jose', 'createToken()')).not.toThrow();
  });

  it('a feature without its package names that package and the feature', () => {
    const nowhere = folderWith({});
    expect(thrown(() => nowhere.load('ioredis', 'The redis option')).message).toBe(
      'The redis option needs a package that is not installed: ioredis (scale-out over Redis). Install: npm install ioredis@6',
    );
    expect(thrown(() => nowhere.require('jose', 'createToken()')).missing).toEqual(['jose']);
  });

  it('another major version than the one it runs with is refused, naming the version installed and the one to install', () => {
    const old = folderWith({ zod: '3.23.8', pino: '10.1.0', 'prom-client': '15.0.0' });
    const error = thrown(() => old.core('pino'));
    expect(error.missing).toEqual(['zod']);
    expect(error.message).toBe('socketchart/server needs zod 4 (validating frames and options); zod 3.23.8 is installed. Install: npm install zod@4');
    expect(thrown(() => folderWith({ jose: '4.15.9' }).require('jose', 'createToken()')).message).toContain('createToken() needs jose 5 or 6');
    expect(thrown(() => folderWith({ zod: '4.4.0', pino: '8.21.0', 'prom-client': '15.0.0' }).core('zod')).message).toBe(
      'socketchart/server needs pino 9 or 10 (the default logger); pino 8.21.0 is installed. Install: npm install pino@10',
    );
  });

  it('each major version it runs with is taken', () => {
    expect(() => folderWith({ zod: '4.4.0', pino: '9.0.0', 'prom-client': '15.0.0' }).core('zod')).not.toThrow();
    expect(() => folderWith({ zod: '4.4.0', pino: '10.0.0', 'prom-client': '15.0.0' }).core('zod')).not.toThrow();
    expect(() => folderWith({ jose: '5.0.0' }).require('jose', 'createToken()')).not.toThrow();
    expect(() => folderWith({ ioredis: '5.3.0' }).load('ioredis', 'The redis option')).not.toThrow();
  });

  it('the majors it runs with are those of its optional peer dependencies in package.json, in order', () => {
    const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      peerDependencies: Record<string, string>;
      peerDependenciesMeta: Record<string, { optional?: boolean }>;
    };
    for (const [name, { majors }] of Object.entries(serverDependencies)) {
      const ranged = manifest.peerDependencies[name]!.split('||').map((range) => Number(/^\s*\^(\d+)\./.exec(range)?.[1]));
      expect(ranged, name).toEqual(majors);
      expect(manifest.peerDependenciesMeta[name]?.optional, name).toBe(true);
    }
  });
});
