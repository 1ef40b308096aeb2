import { createRequire } from 'node:module';

/**
 * The packages `socketchart/server` loads, and what each one is for. They are optional peer dependencies
 * of socketchart, so that a client-only install carries none of them.
 */
export const serverDependencies = {
  zod: 'validation of frames and options',
  pino: 'the default logger',
  'prom-client': 'the /metrics endpoint',
  jose: 'JWT auth (auth.jwtSecret) and createToken()',
  ioredis: 'scale-out over Redis (the redis option)',
} as const;

export type ServerDependency = keyof typeof serverDependencies;

/** What every server loads; jose and ioredis are loaded only by the features that use them. */
export const coreServerDependencies: readonly ServerDependency[] = ['zod', 'pino', 'prom-client'];

/** A package socketchart needs for what was asked of it is not installed; `missing` names each one. */
export class MissingDependencyError extends Error {
  override readonly name = 'MissingDependencyError';
  readonly code = 'ERR_SOCKETCHART_MISSING_DEPENDENCY';

  constructor(
    readonly missing: readonly ServerDependency[],
    readonly neededBy: string,
  ) {
    const packages = missing.map((name) => `${name} (${serverDependencies[name]})`).join(', ');
    super(`${neededBy} needs ${missing.length === 1 ? 'a package that is' : 'packages that are'} not installed: ${packages}. Install: npm install ${missing.join(' ')}`);
  }
}

export interface DependencyLoader {
  /** Whether `name` can be loaded from here. */
  installed(name: ServerDependency): boolean;
  /** Loads one of the core dependencies; when any is missing, the error names every one that is. */
  core<T>(name: ServerDependency): T;
  /** Throws MissingDependencyError unless `name`, which `feature` needs, is installed. */
  require(name: ServerDependency, feature: string): void;
  /** Loads `name` (a CommonJS package) for `feature`. */
  load<T>(name: ServerDependency, feature: string): T;
}

/** Loads the server's dependencies as a module at `from` would resolve them. */
export function dependencyLoader(from: string | URL): DependencyLoader {
  const requireFrom = createRequire(from);
  const installed = (name: ServerDependency) => {
    try {
      requireFrom.resolve(name);
      return true;
    } catch {
      return false;
    }
  };
  const loader: DependencyLoader = {
    installed,
    core<T>(name: ServerDependency) {
      const missing = coreServerDependencies.filter((dependency) => !installed(dependency));
      if (missing.length > 0) throw new MissingDependencyError(missing, 'socketchart/server');
      return requireFrom(name) as T;
    },
    require(name, feature) {
      if (!installed(name)) throw new MissingDependencyError([name], feature);
    },
    load<T>(name: ServerDependency, feature: string) {
      loader.require(name, feature);
      return requireFrom(name) as T;
    },
  };
  return loader;
}

/** The loader of this package. */
export const dependencies = dependencyLoader(import.meta.url);

let jose: Promise<typeof import('jose')> | undefined;

/** jose, an ES module, loaded when a JWT is first signed or verified. */
export const loadJose = (): Promise<typeof import('jose')> => (jose ??= import('jose'));
