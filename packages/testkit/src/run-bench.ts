/**
 * Runs a benchmark's `main` as the whole process: exits with the code it returns (0 when the targets were met), or
 * with 1 after printing why the benchmark itself failed.
 *
 * @example
 * runBench(async () => (await measure()).pass ? 0 : 1);
 */
export function runBench(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
