import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Writes this package's test counts to $EPHEMERA_TEST_RESULTS/<package>.json, so `npm test` can print one
 * closing line for the whole workspace. Does nothing when the variable is unset.
 */
export default class SummaryReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }

  onRunComplete(_contexts, results) {
    const dir = process.env.EPHEMERA_TEST_RESULTS;
    if (!dir) return;
    const name = process.env.npm_package_name || path.basename(this.rootDir);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, `${name.replace(/[^a-z0-9-]+/gi, '_')}.json`),
      JSON.stringify({
        name,
        passed: results.numPassedTests,
        // A suite that fails to load has no failed test of its own; count it, or it would vanish from the total.
        failed: results.numFailedTests + results.numRuntimeErrorTestSuites,
        skipped: results.numPendingTests + results.numTodoTests,
      }),
    );
  }
}
