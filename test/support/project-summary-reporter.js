// Jest reporter: one line per project (which Express ran), e.g. "jest [express4]: 9 suites, 210 passed, 0 failed, 0 skipped".
class ProjectSummaryReporter {
  onRunComplete(_contexts, results) {
    const projects = new Map();
    for (const suite of results.testResults) {
      const name = suite.displayName?.name ?? 'default';
      const counts = projects.get(name) ?? { suites: 0, passed: 0, failed: 0, skipped: 0 };
      counts.suites += 1;
      counts.passed += suite.numPassingTests;
      counts.failed += suite.numFailingTests + (suite.testExecError ? 1 : 0);
      counts.skipped += suite.numPendingTests + suite.numTodoTests;
      projects.set(name, counts);
    }
    for (const [name, { suites, passed, failed, skipped }] of [...projects].sort(([a], [b]) => a.localeCompare(b))) {
      process.stdout.write(`\njest [${name}]: ${suites} suites, ${passed} passed, ${failed} failed, ${skipped} skipped`);
    }
    if (projects.size > 0) process.stdout.write('\n');
  }
}

module.exports = ProjectSummaryReporter;
