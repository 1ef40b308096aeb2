import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const entryPoints = ['src/index.ts', 'src/index.node.ts', 'src/testing/index.ts', 'src/server/index.ts'];

/** Every exported name of every entry point, with where its declaration lives (type and value exports alike). */
function exportedDeclarations(): Map<string, Map<string, string[]>> {
  const program = ts.createProgram(
    entryPoints.map((entry) => `${root}${entry}`),
    { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, skipLibCheck: true, noEmit: true, types: ['node'] },
  );
  const checker = program.getTypeChecker();
  const byName = new Map<string, Map<string, string[]>>();
  for (const entry of entryPoints) {
    const source = program.getSourceFile(`${root}${entry}`)!;
    const module = checker.getSymbolAtLocation(source)!;
    for (const exported of checker.getExportsOfModule(module)) {
      const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const where = (target.declarations ?? []).map((declaration) => `${declaration.getSourceFile().fileName.slice(root.length)}:${declaration.pos}`).sort().join(' + ');
      const meanings = byName.get(exported.name) ?? new Map<string, string[]>();
      meanings.set(where, [...(meanings.get(where) ?? []), entry]);
      byName.set(exported.name, meanings);
    }
  }
  return byName;
}

describe('the package’s entry points', () => {
  it('give every exported name one meaning: a name exported by several entry points is the same declaration', () => {
    const clashes = [...exportedDeclarations()]
      .filter(([, meanings]) => meanings.size > 1)
      .map(([name, meanings]) => `${name}: ${[...meanings].map(([where, entries]) => `${where} (${entries.join(', ')})`).join(' vs ')}`);
    expect(clashes).toEqual([]);
  });

  it('export the same runtime object under a name they share', async () => {
    const modules = await Promise.all([
      import('../../../src/index.js'),
      import('../../../src/index.node.js'),
      import('../../../src/testing/index.js'),
      import('../../../src/server/index.js'),
    ]);
    const seen = new Map<string, unknown>();
    const clashes: string[] = [];
    modules.forEach((module, index) => {
      for (const [name, value] of Object.entries(module)) {
        if (seen.has(name) && seen.get(name) !== value) clashes.push(`${name} (${entryPoints[index]})`);
        seen.set(name, value);
      }
    });
    expect(clashes).toEqual([]);
    expect(seen.size).toBeGreaterThan(50);
  });

  it('share the wire protocol between engine and server', async () => {
    const [client, server] = await Promise.all([import('../../../src/index.js'), import('../../../src/server/index.js')]);
    expect(server.CloseCode).toBe(client.CloseCode);
    expect(server.ErrorCode).toBe(client.ErrorCode);
    expect(server.JSON_SUBPROTOCOL).toBe(client.JSON_SUBPROTOCOL);
    expect(server.TOKEN_SUBPROTOCOL_PREFIX).toBe(client.TOKEN_SUBPROTOCOL_PREFIX);
  });
});
