import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';
import { socketchartAlias } from '../vite.shared.js';

export default defineConfig({ root: import.meta.dirname, plugins: [vue()], resolve: { alias: socketchartAlias }, build: { outDir: 'dist', emptyOutDir: true } });
