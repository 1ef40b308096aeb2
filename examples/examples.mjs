// The runnable examples of the READMEs: which servers they need, what each prints, and how to run them.
// Used by the test suite (against the sources) and by `npm run check:package` (against the packed tarball,
// installed in a fresh folder). Every example is run as it is written, with `tsx`.
import { spawn } from 'node:child_process';
import { createConnection } from 'node:net';

/** A development secret for the example server's `auth.jwtSecret` and the examples' tokens. */
export const exampleEnv = { JWT_SECRET: 'an-example-secret-of-at-least-32-chars' };

/** The servers the examples talk to, on the ports the READMEs name. */
export const exampleServers = [
  { file: 'server.ts', port: 8080 },
  { file: 'graphql-server.ts', port: 4000 },
  { file: 'plain-server.ts', port: 8090 },
];

/** Each example, and lines its output must contain, in this order. */
export const examples = [
  {
    file: 'quickstart.ts',
    prints: ['idle → connecting', 'connecting → authenticating', 'authenticating → connected', /render \{"text":"hi"\} seq \d+/, 'connected → closing', 'acknowledged, stopped', 'closing → closed'],
  },
  { file: 'pools.ts', prints: ['health degraded', 'sent to the status group, stopped'] },
  {
    file: 'optimistic.ts',
    prints: [
      'render t3 {"id":"t3","title":"Write the report","done":false} pending',
      'render t3 {"id":"t3","title":"Write the report","done":false} confirmed',
      'render t3 {"id":"t3","title":"Write the report","done":true} pending',
      'render t3 {"id":"t3","title":"Write the report","done":true} confirmed',
      'confirmed {"id":"t3","title":"Write the report","done":true}',
    ],
  },
  { file: 'graphql.ts', prints: [/tick \{"ticks":1\}/, '{ countdown: 3 }', '{ countdown: 2 }', '{ countdown: 1 }', '{ countdown: 0 }', 'user Ada'] },
  { file: 'plain.ts', prints: ['frame welcome', 'frame echo: any text'] },
  { file: 'custom-adapter.ts', prints: ['news: hello from news'] },
  { file: 'base-connection.ts', prints: ['members ann', 'joined, stopped'] },
];

const EXAMPLE_TIMEOUT_MS = 20_000;

const portIsFree = (port) =>
  new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });

/** Runs `file` of `dir` with tsx (`cwd`: where tsx and socketchart resolve from); settles when it exits. */
function run(dir, file, cwd, onLine) {
  const child = spawn(process.execPath, ['--import', 'tsx', `${dir}/${file}`], { cwd, env: { ...process.env, ...exampleEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
    onLine?.(stdout);
  });
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, exited };
}

/** Starts the example servers; resolves once each has printed `listening on`, with the function that stops them. */
export async function startExampleServers(dir, cwd) {
  for (const { file, port } of exampleServers) if (!(await portIsFree(port))) throw new Error(`port ${port} (${file}) is in use: the examples need it free`);
  const started = [];
  const stop = async () => {
    for (const { child } of started) child.kill('SIGTERM');
    const killLater = setTimeout(() => started.forEach(({ child }) => child.kill('SIGKILL')), 5_000);
    await Promise.all(started.map(({ exited }) => exited));
    clearTimeout(killLater);
  };
  try {
    for (const { file } of exampleServers) {
      let ready;
      const listening = new Promise((resolve) => (ready = resolve));
      const server = run(dir, file, cwd, (out) => out.includes('listening on') && ready());
      started.push(server);
      const outcome = await Promise.race([listening.then(() => 'ready'), server.exited, new Promise((resolve) => setTimeout(() => resolve('timeout'), EXAMPLE_TIMEOUT_MS))]);
      if (outcome !== 'ready') throw new Error(`${file} did not start: ${typeof outcome === 'string' ? outcome : outcome.stderr || outcome.stdout}`);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return stop;
}

/** Runs one example to its end (bounded); resolves with what it printed and its exit. */
export async function runExample(dir, file, cwd) {
  const { child, exited } = run(dir, file, cwd);
  const timer = setTimeout(() => child.kill('SIGKILL'), EXAMPLE_TIMEOUT_MS);
  const result = await exited;
  clearTimeout(timer);
  return result;
}

/** What is wrong with an example's run: a non-zero exit, or an expected line missing (or out of order). */
export function problemsOf(example, result) {
  const problems = [];
  if (result.code !== 0) problems.push(`exited with ${result.code ?? result.signal}: ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const lines = result.stdout.split('\n');
  let at = 0;
  for (const expected of example.prints) {
    const found = lines.findIndex((line, index) => index >= at && (typeof expected === 'string' ? line === expected : expected.test(line)));
    if (found < 0) problems.push(`no line ${expected} (in order) in: ${result.stdout.trim().split('\n').slice(-8).join(' | ')}`);
    else at = found + 1;
  }
  return problems;
}
