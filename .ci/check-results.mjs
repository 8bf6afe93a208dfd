// Fails CI when a test was skipped or left as todo, or when a database
// server suite did not run: a skipped suite must never count as green.
import { readFileSync } from 'node:fs';

const results = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const problems = [];
if (results.numTotalTests === 0) problems.push('no test ran');
if (results.numPendingTests > 0 || results.numTodoTests > 0) {
  const skipped = results.testResults.flatMap((file) =>
    file.assertionResults.filter((t) => t.status !== 'passed' && t.status !== 'failed').map((t) => `${file.name}: ${t.fullName}`),
  );
  problems.push(`${results.numPendingTests + results.numTodoTests} tests skipped:\n  ${skipped.join('\n  ')}`);
}
const passed = results.testResults.flatMap((file) => file.assertionResults.filter((t) => t.status === 'passed').map((t) => t.fullName));
for (const server of ['mysql', 'postgres']) {
  if (!passed.some((name) => name.includes(server))) problems.push(`the ${server} suite did not run`);
}
if (problems.length > 0) {
  console.error(`ci: ${problems.join('\n')}`);
  process.exit(1);
}
console.log(`ci: ${results.numPassedTests} passed, ${results.numFailedTests} failed, none skipped; mysql and postgres suites ran`);
