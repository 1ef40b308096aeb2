// The package as users get it: packs it, lints it (publint, @arethetypeswrong/cli), installs the tarball alone
// in a fresh folder (a client install: what it carries, and the error socketchart/server gives without its
// packages), then with the server's packages type-checks a consumer of every entry point and the READMEs'
// examples with skipLibCheck false (moduleResolution bundler and node16) and runs the examples as written.
// Exits 1 on the first failure. Needs a build (npm run build) first.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { examples, exampleServers, problemsOf, runExample, startExampleServers } from '../examples/examples.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'socketchart-package-'));
const run = (command, args, cwd = root) => execFileSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
const step = (name) => console.log(`package: ${name}`);

try {
  step('npm pack');
  const [packed] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work]));
  const tarball = join(work, packed.filename);
  console.log(`  ${packed.filename}: ${(packed.size / 1024).toFixed(0)} KB packed, ${(packed.unpackedSize / 1024).toFixed(0)} KB unpacked, ${packed.entryCount} files`);
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

  step('the server\'s packages, TypeScript and the examples\' tools');
  const dev = JSON.parse(run('node', ['-p', 'JSON.stringify(require("./package.json").devDependencies)']));
  const versioned = (...names) => names.map((name) => `${name}@${dev[name]}`);
  run('npm', ['install', '--no-audit', '--no-fund', ...versioned('jose', 'pino', 'prom-client', 'zod', 'ioredis', 'typescript', 'tsx', 'graphql', 'graphql-ws', 'rxjs', '@types/ws'), '@types/node@20'], consumer);
  const examplesDir = join(root, 'examples');
  const appOnly = new Set(['react-dashboard', 'vue-chat', 'serve.ts', 'vite.shared.ts']);
  cpSync(examplesDir, join(consumer, 'examples'), { recursive: true, filter: (path) => !appOnly.has(relative(examplesDir, path).split(sep)[0]) });
  const exampleFiles = examples.map(({ file }) => `examples/${file}`).concat(exampleServers.map(({ file }) => `examples/${file}`), 'examples/token.ts');
  for (const [module, moduleResolution] of [['esnext', 'bundler'], ['node16', 'node16']]) {
    step(`tsc, skipLibCheck false, moduleResolution ${moduleResolution}: every entry point and every example`);
    const config = { compilerOptions: { strict: true, noEmit: true, skipLibCheck: false, module, moduleResolution, target: 'es2022', types: ['node'] }, files: ['index.ts', ...exampleFiles] };
    writeFileSync(join(consumer, `tsconfig.${moduleResolution}.json`), JSON.stringify(config));
    run('npx', ['tsc', '-p', `tsconfig.${moduleResolution}.json`], consumer);
    console.log('  no errors');
  }

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
