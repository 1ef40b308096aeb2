/** Builds the inspector page into `outdir` (default `dist/inspector/`); with `ifStale`, only when a source is newer than the last build. */
export function buildInspectorPage(options?: { outdir?: string; ifStale?: boolean; minify?: boolean }): Promise<{ outdir: string; built: boolean }>;
