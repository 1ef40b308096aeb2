// The package as users get it: packs it, checks what the tarball holds (no unused CLI builds; source maps
// without build-machine paths, each source shipped or inlined), lints it (publint, @arethetypeswrong/cli),
// installs the tarball alone in a fresh folder (a client install: what it carries, and the error
// socketchart/server gives without its packages), then with the server's packages type-checks consumers with
// skipLibCheck false: every entry point and the READMEs' examples (moduleResolution bundler and node16), a Node
// project without the DOM lib (nodenext, node16, bundler), a browser project without esnext.disposable and without
// Node's types; and runs the examples as written. Exits 1 on the first failing step. Needs a build (npm run build) first.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { examples, exampleServers, problemsOf, runExample, startExampleServers } from '../examples/examples.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'socketchart-package-'));
const run = (command, args, cwd = root) => execFileSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
const step = (name) => console.log(`package: ${name}`);

/** A path that names a place on the machine that built the package: `/…`, `C:\\…`, `\\\\server\\…`, `file:…`. */
const isAbsolute = (path) => /^(?:[\\/]|[a-z]:[\\/]|file:)/i.test(path);

/**
 * What is wrong with the source maps of the tarball (`files`: its paths; `read`: a file's text): a map whose
 * `file`, `sourceRoot` or a source is an absolute path, or that names the build folder elsewhere (outside the
 * inlined sources); a source that is neither in the tarball nor inlined (`sourcesContent`).
 */
function mapProblems(files, read) {
  const shipped = new Set(files);
  const problems = [];
  for (const name of files.filter((file) => file.endsWith('.map'))) {
    const text = read(name);
    let map;
    try {
      map = JSON.parse(text);
    } catch {
      problems.push(`${name}: not JSON`);
      continue;
    }
    const own = [];
    if (typeof map.file === 'string' && isAbsolute(map.file)) own.push(`file ${map.file}`);
    if (typeof map.sourceRoot === 'string' && isAbsolute(map.sourceRoot)) own.push(`sourceRoot ${map.sourceRoot}`);
    (map.sources ?? []).forEach((source, index) => {
      if (typeof source !== 'string') own.push(`source ${index} is ${source}`);
      else if (isAbsolute(source)) own.push(`absolute source ${source}${map.sourcesContent?.[index] == null ? ' (no content)' : ''}`);
      else if (map.sourcesContent?.[index] == null && !shipped.has(posix.join(posix.dirname(name), map.sourceRoot ?? '', source))) own.push(`source ${source} neither shipped nor inlined`);
    });
    if (own.length === 0 && JSON.stringify({ ...map, sourcesContent: undefined }).includes(`${root}${sep}`)) own.push(`names the build folder ${root}`);
    if (own.length > 0) problems.push(`${name}: ${own.join(', ')}`);
  }
  return problems;
}

try {
  step('npm pack');
  const [packed] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work]));
  const tarball = join(work, packed.filename);
  console.log(`  ${packed.filename}: ${(packed.size / 1024).toFixed(0)} KB packed, ${(packed.unpackedSize / 1024).toFixed(0)} KB unpacked, ${packed.entryCount} files`);
  step('what the tarball holds: the CLI as ESM only, source maps without build-machine paths');
  const unpacked = join(work, 'unpacked');
  mkdirSync(unpacked);
  run('tar', ['-xzf', tarball, '-C', unpacked]);
  const files = packed.files.map(({ path }) => path);
  const contentProblems = [];
  const bin = JSON.parse(readFileSync(join(unpacked, 'package', 'package.json'), 'utf8')).bin.socketchart.replace(/^\.\//, '');
  if (!files.includes(bin)) contentProblems.push(`the bin ${bin} is missing`);
  const cliExtras = files.filter((file) => /^dist\/cli\./.test(file) && file !== bin && file !== `${bin}.map`);
  if (cliExtras.length > 0) contentProblems.push(`CLI builds nothing uses (the bin is ${bin}): ${cliExtras.join(', ')}`);
  const maps = files.filter((file) => file.endsWith('.map'));
  const badMaps = mapProblems(files, (file) => readFileSync(join(unpacked, 'package', file), 'utf8'));
  if (badMaps.length > 0) contentProblems.push(`${badMaps.length} of ${maps.length} source maps are wrong:\n    ${badMaps.join('\n    ')}`);
  if (contentProblems.length > 0) throw new Error(contentProblems.join('\n  '));
  console.log(`  ${bin} and its map only; ${maps.length} source maps, no absolute path, every source shipped or inlined`);
  step('publint');
  console.log(run('npx', ['publint', '--strict', tarball]).trim().split('\n').slice(-1)[0]);
  step('attw (node16 and bundler resolution)');
  run('npx', ['attw', tarball, '--profile', 'node16']);
  console.log('  no problems');
  step('install the tarball alone in a fresh folder: a client install');
  const consumer = join(work, 'consumer');
  cpSync(join(root, 'test/fixtures/consumer'), consumer, { recursive: true });
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  run('npm', ['install', '--no-audit', '--no-fund', tarball], consumer);
  const modules = join(consumer, 'node_modules');
  const packages = new Set(
    readdirSync(modules)
      .filter((name) => !name.startsWith('.'))
      .flatMap((name) => (name.startsWith('@') ? readdirSync(join(modules, name)).map((inner) => `${name}/${inner}`) : [name])),
  );
  const clientSize = run('du', ['-sk', 'node_modules'], consumer).split('\t')[0];
  console.log(`  node_modules: ${(Number(clientSize) / 1024).toFixed(1)} MB in ${packages.size} packages (${[...packages].sort().join(', ')})`);
  const serverPackages = ['ioredis', 'jose', 'pino', 'prom-client', 'zod', 'rxjs', 'react', 'vue'];
  const unwanted = serverPackages.filter((name) => packages.has(name));
  if (unwanted.length > 0) throw new Error(`a client install carries ${unwanted.join(', ')}`);
  run('node', ['--input-type=module', '-e', "const m = await import('socketchart'); if (typeof m.createConnection !== 'function') process.exit(1)"], consumer);
  run('node', ['-e', "if (typeof require('socketchart').createConnection !== 'function') process.exit(1)"], consumer);
  console.log('  socketchart loads (import and require)');
  run('npx', ['--no-install', 'socketchart', 'help'], consumer);
  console.log('  the socketchart command runs');
  const expected =
    'socketchart/server needs packages that are not installed: zod (validating frames and options), pino (the default logger), prom-client (the /metrics endpoint). ' +
    'Install: npm install zod@4 pino@10 prom-client@15 (add jose for JWT auth and createToken(), ioredis for scale-out over Redis)';
  for (const [how, args] of [
    ['import', ['--input-type=module', '-e', "await import('socketchart/server')"]],
    ['require', ['-e', "require('socketchart/server')"]],
  ]) {
    const refused = spawnSync('node', args, { cwd: consumer, encoding: 'utf8' });
    if (refused.status === 0 || !refused.stderr.includes('MissingDependencyError') || !refused.stderr.includes(expected)) throw new Error(`${how} socketchart/server without its packages: ${refused.stderr.trim().split('\n').slice(0, 6).join(' | ')}`);
  }
  console.log(`  socketchart/server without its packages (import and require): "${expected}"`);
  const serve = spawnSync('npx', ['--no-install', 'socketchart', 'serve', '--port', '0'], { cwd: consumer, encoding: 'utf8', env: { ...process.env, JWT_SECRET: 'x'.repeat(32) }, timeout: 30_000 });
  if (serve.status !== 1 || !serve.stderr.includes(expected)) throw new Error(`socketchart serve without the server's packages: ${serve.status} ${serve.stderr.trim().split('\n').slice(0, 6).join(' | ')}`);
  console.log('  socketchart serve without them: exit 1 with the same message');

  step('the server\'s packages, TypeScript and the examples\' tools');
  const dev = JSON.parse(run('node', ['-p', 'JSON.stringify(require("./package.json").devDependencies)']));
  const versioned = (...names) => names.map((name) => `${name}@${dev[name]}`);
  run('npm', ['install', '--no-audit', '--no-fund', ...versioned('jose', 'pino', 'prom-client', 'zod', 'ioredis', 'typescript', 'tsx', 'graphql', 'graphql-ws', 'rxjs', '@types/ws'), '@types/node@20'], consumer);
  const examplesDir = join(root, 'examples');
  const appOnly = new Set(['react-dashboard', 'vue-chat', 'serve.ts', 'vite.shared.ts']);
  cpSync(examplesDir, join(consumer, 'examples'), { recursive: true, filter: (path) => !appOnly.has(relative(examplesDir, path).split(sep)[0]) });
  const exampleFiles = examples.map(({ file }) => `examples/${file}`).concat(exampleServers.map(({ file }) => `examples/${file}`), 'examples/token.ts');
  // Consumers beyond the default lib (ES2022 + DOM, with Node's types): a Node project without the DOM lib
  // (`Storage`, `IDBFactory` must not be needed), from ESM and CommonJS; a browser project without
  // esnext.disposable and without Node's types (`[Symbol.dispose]` must still type-check), handing the stores a
  // real localStorage, sessionStorage and indexedDB.
  writeFileSync(join(consumer, 'file-store.ts'), "import { fileStore } from 'socketchart';\nexport const store = fileStore({ path: 'outbox.jsonl' });\n");
  writeFileSync(
    join(consumer, 'no-dom.ts'),
    `// A Node project without the DOM lib: the stores take any object with the members they use.
import { createConnection, createPool, indexedDbStore, webStorageStore } from 'socketchart';
import { createServer } from 'socketchart/server';
const entries = new Map<string, string>();
const storage = {
  get length() {
    return entries.size;
  },
  key: (index: number) => [...entries.keys()][index] ?? null,
  getItem: (key: string) => entries.get(key) ?? null,
  setItem: (key: string, value: string) => void entries.set(key, value),
  removeItem: (key: string) => void entries.delete(key),
};
export const stores = [webStorageStore({ storage, key: 'app' }), indexedDbStore({ name: 'app' })];
const connection = createConnection({ url: 'ws://127.0.0.1:1' });
export const dispose: Array<() => unknown> = [() => connection[Symbol.dispose](), () => connection[Symbol.asyncDispose](), () => createPool({ endpoints: [] })[Symbol.asyncDispose]()];
export { createServer };
`,
  );
  writeFileSync(
    join(consumer, 'no-dom.cts'),
    `// The same from CommonJS (the d.cts files).
import socketchart = require('socketchart');
import server = require('socketchart/server');
export const stores = [socketchart.webStorageStore({ storage: { length: 0, key: () => null, getItem: () => null, setItem() {}, removeItem() {} } }), socketchart.indexedDbStore()];
export const all = [socketchart.createConnection, socketchart.createPool, server.createServer];
`,
  );
  writeFileSync(
    join(consumer, 'browser.ts'),
    `// A browser project: lib ES2022 + DOM, no esnext.disposable, no Node types.
import { createConnection, createPool, indexedDbStore, webStorageStore } from 'socketchart';
import { status$ } from 'socketchart/rx';
import { connectInspector } from 'socketchart/inspect';
export const stores = [
  webStorageStore({ storage: window.localStorage }),
  webStorageStore({ storage: sessionStorage, key: 'tab' }),
  indexedDbStore({ indexedDB }),
  indexedDbStore({ indexedDB: window.indexedDB, name: 'app' }),
];
// @ts-expect-error an object without the Storage members is not a storage
webStorageStore({ storage: {} });
// @ts-expect-error an object without open() is not an IndexedDB factory
indexedDbStore({ indexedDB: {} });
export const inspector = connectInspector({ url: 'ws://127.0.0.1:4242' });
const connection = createConnection({ url: 'wss://example.test/ws' });
const pool = createPool({ endpoints: [{ name: 'main', url: 'wss://example.test/ws' }] });
export const dispose: Array<() => void | Promise<void>> = [() => connection[Symbol.dispose](), () => connection[Symbol.asyncDispose](), () => pool[Symbol.dispose](), () => pool[Symbol.asyncDispose]()];
export const status = status$(connection);
`,
  );
  const base = { strict: true, noEmit: true, skipLibCheck: false, target: 'es2022' };
  const consumers = [
    ...[['esnext', 'bundler'], ['node16', 'node16']].map(([module, moduleResolution]) => ({
      name: moduleResolution,
      what: `moduleResolution ${moduleResolution}: every entry point and every example`,
      compilerOptions: { module, moduleResolution, types: ['node'] },
      files: ['index.ts', ...exampleFiles],
    })),
    ...[['nodenext', 'nodenext'], ['node16', 'node16'], ['esnext', 'bundler']].map(([module, moduleResolution]) => ({
      name: `no-dom.${moduleResolution}`,
      what: `a Node project, lib es2022 + esnext.disposable (no DOM), moduleResolution ${moduleResolution}`,
      compilerOptions: { module, moduleResolution, lib: ['es2022', 'esnext.disposable'], types: ['node'] },
      files: ['index.ts', 'no-dom.ts', ...(moduleResolution === 'bundler' ? [] : ['no-dom.cts'])],
    })),
    {
      name: 'browser',
      what: 'a browser project, lib ES2022 + DOM + DOM.Iterable (no esnext.disposable, no Node types), moduleResolution bundler',
      compilerOptions: { module: 'esnext', moduleResolution: 'bundler', lib: ['ES2022', 'DOM', 'DOM.Iterable'], types: [] },
      files: ['browser.ts'],
    },
    {
      name: 'bundler-node',
      what: 'a Node project with moduleResolution bundler and customConditions ["node"] (as the README says for fileStore): the Node entry\'s types',
      compilerOptions: { module: 'esnext', moduleResolution: 'bundler', customConditions: ['node'], types: ['node'] },
      files: ['file-store.ts'],
    },
    {
      name: 'exact',
      what: 'exactOptionalPropertyTypes (with skipLibCheck, which xstate\'s own types need there), moduleResolution bundler: every entry point and every example',
      compilerOptions: { module: 'esnext', moduleResolution: 'bundler', types: ['node'], exactOptionalPropertyTypes: true, skipLibCheck: true },
      files: ['index.ts', ...exampleFiles],
    },
  ];
  const failed = [];
  for (const { name, what, compilerOptions, files: consumerFiles } of consumers) {
    step(`tsc, ${compilerOptions.skipLibCheck ? '' : 'skipLibCheck false, '}${what}`);
    writeFileSync(join(consumer, `tsconfig.${name}.json`), JSON.stringify({ compilerOptions: { ...base, ...compilerOptions }, files: consumerFiles }));
    const checked = spawnSync('npx', ['tsc', '-p', `tsconfig.${name}.json`], { cwd: consumer, encoding: 'utf8' });
    if (checked.status === 0) {
      console.log('  no errors');
    } else {
      console.log(`  ${(checked.stdout + checked.stderr).trim().split('\n').join('\n  ')}`);
      failed.push(name);
    }
  }
  if (failed.length > 0) throw new Error(`tsc, skipLibCheck false: errors in ${failed.join(', ')}`);

  run('node', ['-e', "require('socketchart/server').createToken({ secret: 'x'.repeat(32), userId: 'cjs' }).then((t) => { if (t.split('.').length !== 3) process.exit(1) })"], consumer);
  console.log('  socketchart/server from CommonJS with its packages: createToken() signs');

  step('the READMEs\' examples, as written, against the example servers');
  const stopServers = await startExampleServers('examples', consumer);
  const failures = [];
  try {
    for (const example of examples) {
      const problems = problemsOf(example, await runExample('examples', example.file, consumer));
      console.log(`  ${example.file}: ${problems.length === 0 ? 'ok' : problems.join('; ')}`);
      failures.push(...problems.map((problem) => `${example.file}: ${problem}`));
    }
  } finally {
    await stopServers();
  }
  if (failures.length > 0) throw new Error(failures.join('\n'));
} catch (error) {
  console.error(`package: FAILED: ${error.stdout === undefined ? error.message : error.message.split('\n')[0]}`);
  if (error.stdout) console.error(error.stdout);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
