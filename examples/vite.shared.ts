import { fileURLToPath } from 'node:url';

const src = (path: string) => fileURLToPath(new URL(`../src/${path}`, import.meta.url));

/** The examples import `socketchart` as an app would; here it resolves to this repository's sources. */
export const socketchartAlias = [
  { find: /^socketchart\/react$/, replacement: src('react/index.ts') },
  { find: /^socketchart\/vue$/, replacement: src('vue/index.ts') },
  { find: /^socketchart\/rx$/, replacement: src('rx/index.ts') },
  { find: /^socketchart$/, replacement: src('index.ts') },
];
