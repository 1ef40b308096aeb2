export declare const root: string;
export declare function measure(
  contents: string,
  external?: string[],
): Promise<{ min: number; gz: number; metafile: import('esbuild').Metafile; code: string }>;
