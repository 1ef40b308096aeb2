/** `npx tsx test/support/fuzz/client-run.ts --seed 7 --runs 4 --frames 400 [--protocol json|graphql|plain]`: fuzzes the client and exits 1 on any violation. */
import { describeViolations, fuzzClient, type FuzzProtocol } from './client-fuzz.js';
import { argument } from './arguments.js';

const protocolIndex = process.argv.indexOf('--protocol');
const protocols = protocolIndex < 0 ? undefined : [process.argv[protocolIndex + 1] as FuzzProtocol];
const seed = argument('seed', Date.now() % 1_000_000);
const started = Date.now();
const figures = await fuzzClient({ seed, runs: argument('runs', 4), frames: argument('frames', 400), ...(protocols ? { protocols } : {}) });
for (const text of describeViolations(figures.violations)) process.stdout.write(`\n${text}\n`);
process.stdout.write(`\n[client fuzz] seed ${seed}: ${figures.runs} runs, ${figures.batches} batches, ${figures.framesSent} hostile frames, ${figures.violations.length} violations in ${Date.now() - started} ms\n`);
process.exit(figures.violations.length > 0 ? 1 : 0);
