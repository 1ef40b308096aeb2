/** The non-negative integer given as `--name N` on the command line, else `fallback`. */
export function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index < 0 ? undefined : Number(process.argv[index + 1]);
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name}: expected a non-negative integer, received ${process.argv[index + 1]}`);
  return value;
}
