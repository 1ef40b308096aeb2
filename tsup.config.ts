import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'index.node': 'src/index.node.ts',
    testing: 'src/testing/index.ts',
    server: 'src/server/index.ts',
    react: 'src/react/index.ts',
    vue: 'src/vue/index.ts',
    rx: 'src/rx/index.ts',
    inspect: 'src/inspection/index.ts',
    inspector: 'src/inspection/node.ts',
    cli: 'src/cli/main.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  splitting: true,
  shims: true,
  external: ['ws', 'xstate', 'rxjs', 'jose', 'zod', 'pino', 'prom-client', 'ioredis', 'react', '@xstate/react', 'vue', '@xstate/vue'],
});
