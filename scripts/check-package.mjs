// The package as users get it: packs it, lints it (publint, @arethetypeswrong/cli), installs the tarball in a
// fresh folder and type-checks a consumer of every entry point with skipLibCheck false, under
// moduleResolution bundler and node16. Exits 1 on the first failure. Needs a build (npm run build) first.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
  step('install the tarball in a fresh folder');
  const consumer = join(work, 'consumer');
  cpSync(join(root, 'test/fixtures/consumer'), consumer, { recursive: true });
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const typescript = JSON.parse(run('node', ['-p', 'JSON.stringify(require("./package.json").devDependencies)'])).typescript;
  run('npm', ['install', '--no-audit', '--no-fund', tarball, `typescript@${typescript}`, '@types/node@20', 'rxjs@7'], consumer);
  const size = run('du', ['-sk', 'node_modules'], consumer).split('\t')[0];
  console.log(`  node_modules: ${(Number(size) / 1024).toFixed(1)} MB`);
  for (const [module, moduleResolution] of [['esnext', 'bundler'], ['node16', 'node16']]) {
    step(`tsc, skipLibCheck false, moduleResolution ${moduleResolution}`);
    const config = { compilerOptions: { strict: true, noEmit: true, skipLibCheck: false, module, moduleResolution, target: 'es2022', types: ['node'] }, files: ['index.ts'] };
    writeFileSync(join(consumer, `tsconfig.${moduleResolution}.json`), JSON.stringify(config));
    run('npx', ['tsc', '-p', `tsconfig.${moduleResolution}.json`], consumer);
    console.log('  no errors');
  }
} catch (error) {
  console.error(`package: FAILED: ${error.message.split('\n')[0]}`);
  if (error.stdout) console.error(error.stdout);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
