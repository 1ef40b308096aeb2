#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { explained } from './explained.js';
import { shown, UsageError } from './flags.js';
import { inspectUsage, parseInspectArgs } from './inspect-args.js';
import { startInspectorServer } from '../inspection/server.js';
import { InspectorPageMissingError } from '../inspection/page-files.js';
import { serve, token } from './serve.js';

const usage = `usage: socketchart <command> [options]

commands:
  serve [--port <n>] [--host <addr>] [--redis <url>] [--trusted-proxy <ip|cidr>]
                                         the reference server (tokens signed with JWT_SECRET)
  token <userId> [--ttl <seconds>]       prints a token for the reference server
  inspect [--port <n>] [--host <addr>]   the offline inspector (page and WebSocket on loopback)
  help                                   this text
  --version                              the version of socketchart

socketchart <command> --help tells more.`;

/** `socketchart inspect`: serves the page until SIGINT or SIGTERM; resolves with the exit code. */
async function inspect(argv: readonly string[]): Promise<number> {
  let args;
  try {
    args = parseInspectArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${inspectUsage}`);
    return 2;
  }
  if (args === 'help') {
    console.log(inspectUsage);
    return 0;
  }
  let server;
  try {
    server = await startInspectorServer({ port: args.port, host: args.host, appOrigins: args.appOrigins });
  } catch (error) {
    console.error(error instanceof InspectorPageMissingError ? error.message : explained(error, args));
    return 1;
  }
  console.log(`socketchart inspector: ${server.url}`);
  console.log(`apps send to ${server.wsUrl}:`);
  console.log(`  import { connectInspector } from 'socketchart/inspect';      createPool({ …, inspect: connectInspector({ url: '${server.wsUrl}' }) })`);
  console.log(`  import { createWebSocketInspector } from '@statelyai/inspect'; createActor(logic, { inspect: createWebSocketInspector({ url: '${server.wsUrl}' }).inspect })`);
  console.log('Ctrl-C to stop');
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    if (args.exitWithParent) {
      process.on('SIGINT', () => {});
      process.stdin.once('end', resolve).once('close', resolve).resume();
    } else process.once('SIGINT', resolve);
  });
  await server.close();
  return 0;
}

/** The version in socketchart's package.json, found from this file up (in dist/ or in src/cli/). */
function version(): string {
  for (let dir = new URL('.', import.meta.url); ; dir = new URL('..', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'socketchart' && pkg.version) return pkg.version;
    } catch {
      // no package.json here
    }
    if (dir.pathname === '/') return 'unknown';
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'inspect':
      return inspect(rest);
    case 'serve':
      return serve(rest);
    case 'token':
      return token(rest);
    case '--version':
    case '-v':
      console.log(version());
      return 0;
    case undefined:
      console.error(usage);
      return 2;
    case 'help':
    case '--help':
    case '-h':
      console.log(usage);
      return 0;
    default:
      console.error(`unknown command ${command.startsWith('-') ? JSON.stringify(command.split('=')[0]) : shown(command)}\n\n${usage}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
