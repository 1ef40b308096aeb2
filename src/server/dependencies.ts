import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The packages `socketchart/server` loads, what each one is for, and the major versions it runs with (the
 * last one is the one to install). They are optional peer dependencies of socketchart, so that a client-only
 * install carries none of them.
 */
export const serverDependencies = {
  zod: { for: 'validating frames and options', majors: [4] },
  pino: { for: 'the default logger', majors: [9, 10] },
  'prom-client': { for: 'the /metrics endpoint', majors: [15] },
  jose: { for: 'JWT auth and createToken()', majors: [5, 6] },
  ioredis: { for: 'scale-out over Redis', majors: [5, 6] },
} as const satisfies Record<string, { for: string; majors: readonly number[] }>;

const latestMajor = (name: ServerDependency) => serverDependencies[name].majors.at(-1)!;

export type ServerDependency = keyof typeof serverDependencies;

/** What every server loads; jose and ioredis are loaded only by the features that use them. */
export const coreServerDependencies: readonly ServerDependency[] = ['zod', 'pino', 'prom-client'];

const featureDependencies: readonly ServerDependency[] = ['jose', 'ioredis'];

/** A package socketchart needs for what was asked of it is not installed, or not in a version it runs with. */
export class MissingDependencyError extends Error {
  override readonly name = 'MissingDependencyError';
  readonly code = 'ERR_SOCKETCHART_MISSING_DEPENDENCY';

  constructor(
    /** The packages to install. */
    readonly missing: readonly ServerDependency[],
    message: string,
  ) {
    super(message);
  }
}

const described = (names: readonly ServerDependency[]) => names.map((name) => `${name} (${serverDependencies[name].for})`).join(', ');
const install = (names: readonly ServerDependency[]) => `npm install ${names.map((name) => `${name}@${latestMajor(name)}`).join(' ')}`;

function missingError(missing: readonly ServerDependency[], neededBy: string, alsoMention: readonly ServerDependency[] = []): MissingDependencyError {
  const also = alsoMention.length === 0 ? '' : ` (add ${alsoMention.map((name) => `${name} for ${serverDependencies[name].for}`).join(', ')})`;
  return new MissingDependencyError(
    missing,
    `${neededBy} needs ${missing.length === 1 ? 'a package that is' : 'packages that are'} not installed: ${described(missing)}. Install: ${install(missing)}${also}`,
  );
}

function versionError(name: ServerDependency, version: string, neededBy: string): MissingDependencyError {
  const { majors } = serverDependencies[name];
  return new MissingDependencyError([name], `${neededBy} needs ${name} ${majors.join(' or ')} (${serverDependencies[name].for}); ${name} ${version} is installed. Install: ${install([name])}`);
}

/** The version of `name` that `resolve` finds, read from its package.json; undefined when it is not installed. */
function versionOf(resolve: (name: string) => string, name: ServerDependency): string | undefined {
  let entry: string;
  try {
    entry = resolve(name);
  } catch {
    return undefined;
  }
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (manifest.name === name) return manifest.version ?? '0.0.0';
    } catch {
      // no package.json here: look further up
    }
  }
  return '0.0.0';
}

const requireHere = createRequire(import.meta.url);

/** Each CommonJS dependency, loaded by name as bundlers and file tracers can follow. */
const loaders = {
  zod: () => requireHere('zod') as unknown,
  pino: () => requireHere('pino') as unknown,
  'prom-client': () => requireHere('prom-client') as unknown,
  ioredis: () => requireHere('ioredis') as unknown,
} as const;

export interface DependencyLoader {
  /** Loads one of the core dependencies; when any is missing, the error names every one that is. */
  core<T>(name: keyof typeof loaders): T;
  /** Throws MissingDependencyError unless `name`, which `feature` needs, is installed in a version it runs with. */
  require(name: ServerDependency, feature: string): void;
  /** Loads `name` for `feature`. */
  load<T>(name: keyof typeof loaders, feature: string): T;
}

/** The server's dependencies as `resolve` finds them (a module's `require.resolve`). */
export function dependencyLoader(resolve: (name: string) => string): DependencyLoader {
  const checked = new Set<ServerDependency>();
  const check = (names: readonly ServerDependency[], neededBy: string, alsoMention?: readonly ServerDependency[]) => {
    const unchecked = names.filter((name) => !checked.has(name));
    if (unchecked.length === 0) return;
    const missing = unchecked.filter((name) => versionOf(resolve, name) === undefined);
    if (missing.length > 0) throw missingError(missing, neededBy, alsoMention);
    for (const name of unchecked) {
      const version = versionOf(resolve, name)!;
      if (!(serverDependencies[name].majors as readonly number[]).includes(Number.parseInt(version, 10))) throw versionError(name, version, neededBy);
      checked.add(name);
    }
  };
  const loader: DependencyLoader = {
    core<T>(name: keyof typeof loaders) {
      check(coreServerDependencies, 'socketchart/server', featureDependencies);
      return loaders[name]() as T;
    },
    require(name, feature) {
      check([name], feature);
    },
    load<T>(name: keyof typeof loaders, feature: string) {
      check([name], feature);
      return loaders[name]() as T;
    },
  };
  return loader;
}

/** The loader of this package. */
export const dependencies = dependencyLoader((name) => requireHere.resolve(name));

let jose: Promise<typeof import('jose')> | undefined;

/** jose, an ES module, loaded when a JWT is first signed or verified. */
export const loadJose = (): Promise<typeof import('jose')> => (jose ??= import('jose'));
