import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The first ```ts block after `heading` in the README. */
function readmeBlock(heading: string): string {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const at = readme.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`README has no heading "${heading}"`);
  const match = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!match) throw new Error(`no ts block under "${heading}"`);
  return match[1]!;
}

/** Runs a script with tsx from a directory inside node_modules (so that `ws` resolves); bounded to 15 s. */
function run(source: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = `${root}node_modules/.cache/socketchart-readme-${process.pid}`;
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/custom-adapter.mts`;
  writeFileSync(file, source);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the example did not exit within 15 s: ${stdout} ${stderr}`));
    }, 15_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, stdout, stderr });
    });
  });
}

describe("the README's custom adapter example", () => {
  it('runs as written: subscribes over its own protocol, receives the event and exits', async () => {
    const block = readmeBlock('#### Your own server: a custom adapter');
    expect(block).toContain("from 'socketchart'");
    const source = block.replace("from 'socketchart'", `from ${JSON.stringify(pathToFileURL(`${root}src/index.node.ts`).href)}`);
    const { code, stdout, stderr } = await run(source);
    expect(stderr).toBe('');
    expect(stdout).toBe('news: hello from news\n');
    expect(code).toBe(0);
  });
});
