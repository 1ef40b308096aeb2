import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { connectionDefaults, poolDefaults } from '../../../src/connection/defaults.js';
import { createConnection, createPool } from '../../../src/index.js';
import { createMockServer } from '../../../src/testing/index.js';

/**
 * Each option's default lives in one place (`src/connection/defaults.ts`). Its JSDoc `@default`, and
 * the README's options tables, say the same: read from the sources and the README here, and compared.
 */

type Defaults = Readonly<Record<string, unknown>>;

/** Interfaces whose options have a default, and where in the defaults object each one's defaults are. */
const documented: ReadonlyArray<{ file: string; defaults: Defaults; sections: Readonly<Record<string, string>> }> = [
  {
    file: 'src/connection/options.ts',
    defaults: connectionDefaults,
    sections: {
      ConnectionOptions: '',
      AuthOptions: 'auth',
      ReconnectOptions: 'reconnect',
      CircuitOptions: 'circuit',
      HeartbeatOptions: 'heartbeat',
      QueueOptions: 'queue',
      AckOptions: 'acks',
      FailoverOptions: 'failover',
    },
  },
  { file: 'src/policy/rate-limiter.ts', defaults: connectionDefaults, sections: { RateLimitOptions: 'rateLimit' } },
  { file: 'src/pool/options.ts', defaults: poolDefaults, sections: { PoolOptions: '', EndpointOptions: '' } },
  { file: 'src/pool/balancer.ts', defaults: poolDefaults, sections: { HealthPolicy: 'health' } },
  { file: 'src/policy/dial-budget.ts', defaults: poolDefaults, sections: { DialBudgetOptions: 'dialBudget' } },
];

/** A `@default` that is a value (`30000`, `'message'`, `{ after: 3 }`, `[]`), or `undefined` when it is prose. */
function literal(text: string): { value: unknown } | undefined {
  if (!/^[\s\d.'"[\]{}:,A-Za-z_-]+$/.test(text) || /^(see|none|undefined|the|browser|globalThis|jsonProtocol|Math|limit)\b/.test(text)) return undefined;
  try {
    return { value: new Function(`"use strict"; return (${text});`)() as unknown };
  } catch {
    return undefined;
  }
}

/** Every `@default` literal of the documented interfaces, by option path (`reconnect.baseMs`). */
function jsdocDefaults(file: string, sections: Readonly<Record<string, string>>): Map<string, unknown> {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const found = new Map<string, unknown>();
  const visit = (node: ts.Node) => {
    if (ts.isInterfaceDeclaration(node) && node.name.text in sections) {
      const section = sections[node.name.text]!;
      for (const member of node.members) {
        if (!ts.isPropertySignature(member) || !ts.isIdentifier(member.name)) continue;
        for (const tag of ts.getJSDocTags(member)) {
          if (tag.tagName.text !== 'default') continue;
          const text = ts.getTextOfJSDocComment(tag.comment)?.trim() ?? '';
          const parsed = literal(text);
          if (parsed) found.set(section ? `${section}.${member.name.text}` : member.name.text, parsed.value);
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const at = (object: Defaults, path: string): unknown => path.split('.').reduce<unknown>((value, key) => (value as Defaults | undefined)?.[key], object);

/** Every leaf of a defaults object, by path (arrays and empty objects are leaves). */
function leaves(object: Defaults, prefix = ''): string[] {
  return Object.entries(object).flatMap(([key, value]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    const nested = typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length > 0;
    return nested ? leaves(value as Defaults, path) : [path];
  });
}

/** The README's options tables: `| \`reconnect.baseMs\` | \`1000\` | …`. */
function readmeDefaults(): Map<string, unknown> {
  const found = new Map<string, unknown>();
  for (const line of readFileSync('README.md', 'utf8').split('\n')) {
    const match = /^\| `([A-Za-z.[\]]+)` \| `([^`]+)`/.exec(line);
    if (!match) continue;
    const parsed = literal(match[2]!);
    if (parsed) found.set(match[1]!, parsed.value);
  }
  return found;
}

describe('one place for each default', () => {
  it('every @default that names a value agrees with the defaults object', () => {
    for (const { file, defaults, sections } of documented) {
      const found = jsdocDefaults(file, sections);
      expect(found.size, `${file} documents defaults`).toBeGreaterThan(0);
      for (const [path, value] of found) expect(at(defaults, path), `${file}: @default of ${path}`).toEqual(value);
    }
  });

  it('every default is documented with its value in a @default', () => {
    for (const defaults of [connectionDefaults, poolDefaults]) {
      const documentedPaths = new Set<string>();
      for (const entry of documented.filter((candidate) => candidate.defaults === defaults)) {
        for (const [path, value] of jsdocDefaults(entry.file, entry.sections)) {
          documentedPaths.add(path);
          if (typeof value === 'object' && value !== null) for (const leaf of leaves(value as Defaults, path)) documentedPaths.add(leaf);
        }
      }
      expect(leaves(defaults).filter((path) => !documentedPaths.has(path)), 'defaults without a @default').toEqual([]);
    }
  });

  it("the README's options tables say the same", () => {
    const found = readmeDefaults();
    expect(found.size, 'README rows with a default value').toBeGreaterThan(20);
    for (const [path, value] of found) {
      const known = path.startsWith('endpoints[].') ? at(poolDefaults, path.slice('endpoints[].'.length)) : (at(connectionDefaults, path) ?? at(poolDefaults, path));
      expect(known, `README default of ${path}`).toEqual(value);
    }
  });

  it("the README's pool table gives the default of every pool option, an endpoint's priority included (not a connection's)", () => {
    const found = readmeDefaults();
    const rows = [...Object.keys(poolDefaults).filter((key) => key !== 'health' && key !== 'priority'), 'health.maxRttMs'];
    for (const path of rows) expect(found.get(path), `README row of ${path}`).toEqual(at(poolDefaults, path));
    expect(found.get('endpoints[].priority'), 'README row of endpoints[].priority').toEqual(poolDefaults.priority);
  });

  it('a connection and a pool created without options use exactly these defaults', () => {
    const server = createMockServer();
    const connection = createConnection({ url: 'ws://mock.test/x', WebSocket: server.WebSocket });
    const { settings } = connection.snapshot.context;
    expect(settings.reconnect).toEqual(connectionDefaults.reconnect);
    expect(settings.circuit).toEqual(connectionDefaults.circuit);
    expect(settings.heartbeat).toEqual(connectionDefaults.heartbeat);
    expect(settings.failover).toEqual(connectionDefaults.failover);
    expect([settings.connectTimeoutMs, settings.authTimeoutMs, settings.closeTimeoutMs]).toEqual([
      connectionDefaults.connectTimeoutMs,
      connectionDefaults.authTimeoutMs,
      connectionDefaults.closeTimeoutMs,
    ]);
    connection.dispose();
    const pool = createPool({ endpoints: [{ name: 'a', url: 'ws://mock.test/a', WebSocket: server.WebSocket }] });
    expect(pool.snapshot.context.settings).toMatchObject({ staggerMs: poolDefaults.staggerMs, stopTimeoutMs: poolDefaults.stopTimeoutMs });
    pool.dispose();
  });
});
