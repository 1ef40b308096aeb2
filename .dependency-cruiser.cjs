/** Architecture rules, checked by `npm run arch` (and CI). */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'No import cycles anywhere in src/ or machines/.',
      from: { path: '^(src|machines)/' },
      to: { circular: true },
    },
    {
      name: 'machines-are-pure',
      severity: 'error',
      comment: 'A machine file imports nothing but xstate and machines/ (its own types, sibling machines).',
      from: { path: '^machines/' },
      to: { pathNot: ['^machines/', '^node_modules/xstate/'] },
    },
    {
      name: 'machine-types-are-types',
      severity: 'error',
      comment: 'machines/*.types.ts are plain type modules: they import types only.',
      from: { path: '^machines/.+[.]types[.]ts$' },
      to: { dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'client-does-not-import-server',
      severity: 'error',
      comment: 'The client entry never pulls in the reference server.',
      from: { path: '^src/', pathNot: '^src/(server|cli)/' },
      to: { path: '^src/server/' },
    },
    {
      name: 'transport-knows-no-connection',
      severity: 'error',
      comment: 'The socket actor only calls back: it imports nothing from the connection or the pool.',
      from: { path: '^src/transport/' },
      to: { path: '^src/(connection|pool)/' },
    },
    {
      name: 'src-does-not-import-tests',
      severity: 'error',
      from: { path: '^(src|machines)/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Resolved paths stay under node_modules/ when it is a symlink (one install shared by several checkouts).
    preserveSymlinks: true,
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
