// The bundle budget: what a browser app ships, minified (esbuild) and gzipped, from the built dist/.
// Prints each figure next to its budget and exits 1 when one is over, or when a bundle holds code it must not.
import { measure } from './bundle-measure.mjs';

const KB = 1024;

/** Bytes of each input in the minified output, grouped (xstate, and socketchart by folder). */
function costs(metafile) {
  const out = Object.values(metafile.outputs)[0];
  const groups = new Map();
  for (const [file, { bytesInOutput }] of Object.entries(out.inputs)) {
    const group = file.includes('node_modules/xstate') ? 'xstate' : file.replace(/^dist\//, 'dist/');
    groups.set(group, (groups.get(group) ?? 0) + bytesInOutput);
  }
  return [...groups].sort((a, b) => b[1] - a[1]);
}

/** Strings only the pool machine and runtime hold: a connection alone must not ship them. */
const poolCode = ['pool.start', 'does not run a socketchart pool'];
/** Strings only each optional feature holds: a base connection without it must not ship them. */
const featureCode = {
  presence: ['No answer to presence'],
  operations: ['completed without a result'],
  'channel iteration': ['drop-newest'],
};

const figures = [
  // Target 25 KB; not met (see the README's bundle section): each held at its measured size so that it does not grow.
  {
    name: 'client entry: createConnection (xstate included)',
    contents: "export { createConnection } from './dist/index.js';",
    budget: 45.8 * KB,
    target: 25 * KB,
    excludes: { 'pool code': poolCode },
  },
  {
    name: 'client entry: createBaseConnection, no features (xstate included)',
    contents: "export { createBaseConnection } from './dist/index.js';",
    budget: 41.4 * KB,
    target: 25 * KB,
    excludes: { 'pool code': poolCode, ...Object.fromEntries(Object.entries(featureCode).map(([name, markers]) => [`${name} code`, markers])) },
  },
  {
    name: 'client entry: createBaseConnection + PresenceFeature',
    contents: "export { createBaseConnection, PresenceFeature } from './dist/index.js';",
    excludes: { 'operations code': featureCode.operations, 'channel iteration code': featureCode['channel iteration'] },
    includes: { 'presence code': featureCode.presence },
  },
  {
    name: 'floor: xstate running the three machines, nothing else',
    contents:
      "import { createActor } from 'xstate'; import { connectionMachine, heartbeatMachine, flusherMachine } from './dist/index.js'; export const run = () => [connectionMachine, heartbeatMachine, flusherMachine].map((machine) => createActor(machine));",
    // A budget too: an app that embeds only the machines must not ship the runtime (code kept for a side effect would pull it in).
    budget: 16.4 * KB,
  },
  { name: 'client entry: createConnection + createPool (xstate included)', contents: "export { createConnection, createPool } from './dist/index.js';" },
  { name: 'socketchart/react, its own code', contents: "export * from './dist/react.js';", external: ['react', '@xstate/react', 'xstate', './chunk-*'], budget: 3 * KB },
  { name: 'socketchart/vue, its own code', contents: "export * from './dist/vue.js';", external: ['vue', 'xstate', './chunk-*'], budget: 3 * KB },
  { name: 'socketchart/rx, its own code', contents: "export * from './dist/rx.js';", external: ['rxjs', 'xstate', './chunk-*'], budget: 3 * KB },
];

let over = 0;
const verbose = process.argv.includes('--why');
for (const figure of figures) {
  const { min, gz, metafile, code } = await measure(figure.contents, figure.external);
  let within = figure.budget === undefined ? '' : gz <= figure.budget ? `  ≤ ${figure.budget / KB} KB: ok` : `  > ${figure.budget / KB} KB: OVER`;
  if (figure.target !== undefined) within += gz <= figure.target ? ` (target ${figure.target / KB} KB: met)` : ` (target ${figure.target / KB} KB: not met)`;
  if (figure.budget !== undefined && gz > figure.budget) over++;
  console.log(`${figure.name.padEnd(66)} ${(gz / KB).toFixed(1).padStart(5)} KB min+gz (${(min / KB).toFixed(1)} KB min)${within}`);
  for (const [what, markers] of Object.entries(figure.excludes ?? {})) {
    const found = markers.filter((marker) => code.includes(marker));
    if (found.length > 0) over++;
    console.log(`    ${found.length === 0 ? `no ${what}: ok` : `${what} included (${found.join(', ')}): FAIL`}`);
  }
  for (const [what, markers] of Object.entries(figure.includes ?? {})) {
    const missing = markers.filter((marker) => !code.includes(marker));
    if (missing.length > 0) over++;
    console.log(`    ${missing.length === 0 ? `${what}: ok` : `${what} missing (${missing.join(', ')}): FAIL`}`);
  }
  if (verbose && !figure.external) for (const [file, bytes] of costs(metafile).slice(0, 25)) console.log(`    ${(bytes / KB).toFixed(1).padStart(6)} KB min  ${file}`);
}
process.exit(over > 0 ? 1 : 0);
