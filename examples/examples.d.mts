export interface ExampleRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}
export interface Example {
  file: string;
  prints: Array<string | RegExp>;
}
export declare const exampleEnv: Record<string, string>;
export declare const exampleServers: Array<{ file: string; port: number }>;
export declare const examples: Example[];
export declare function startExampleServers(dir: string, cwd: string): Promise<() => Promise<void>>;
export declare function runExample(dir: string, file: string, cwd: string): Promise<ExampleRun>;
export declare function problemsOf(example: Example, result: ExampleRun): string[];
