import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { socketchartAlias } from '../vite.shared.js';

export default defineConfig({ root: import.meta.dirname, plugins: [react()], resolve: { alias: socketchartAlias }, build: { outDir: 'dist', emptyOutDir: true } });
