export declare const root: string;
export declare function measure(
  contents: string,
  external?: string[],
): Promise<{ min: number; gz: number; metafile: import('esbuild').Metafile; code: string }>;
export declare function distState(): { missing: boolean; stale: string[] };
export declare function distProblem(): string | undefined;
