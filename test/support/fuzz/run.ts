/** `npm run fuzz:server -- --frames 500000 --seed 7 [--concurrency 8]`: fuzzes a server process and exits 1 on any failure. */
import { describeFigures, fuzzServer } from './server-fuzz.js';
import { argument } from './arguments.js';
import { internalErrors, spawnFuzzNode } from './fuzz-node.js';

const frames = argument('frames', 500_000);
const seed = argument('seed', Date.now() % 1_000_000);
const concurrency = argument('concurrency', 8);
const node = await spawnFuzzNode();
const port = Number(new URL(node.url).port);
const progress = setInterval(() => process.stderr.write('.'), 5000);
const figures = await fuzzServer({ port, frames, seed, concurrency });
clearInterval(progress);
const crashed = node.exit() !== undefined;
const errors = internalErrors(node);
process.stdout.write(`\n${describeFigures(figures, crashed ? 1 : 0, errors.length)}\n`);
for (const line of errors.slice(0, 20)) process.stdout.write(`  ${line}\n`);
const neighbourOk = figures.neighbour.delivered === figures.neighbour.published && figures.neighbour.acked === figures.neighbour.published && figures.neighbour.inOrder;
await node.kill();
process.exit(crashed || errors.length > 0 || !neighbourOk ? 1 : 0);
