// Count tests in raw TAP written by the tap runner (`TAP_OUTPUT_FILE=...`).
//
// Usage: node .ci/tap-summary.mjs FILE.tap [FILE.tap ...]
// Prints one line, `N passed, N failed`, on stdout and the names of failed
// tests on stderr. Exit status: 0 when nothing failed, 1 otherwise.
//
// What counts as a test: each direct child of a test file, i.e. every
// top-level `t.test(...)` (or a bare top-level assertion). Nested subtests and
// the assertions inside a subtest are not counted separately. A file that
// fails although none of its children did (it crashed, timed out, exited
// non-zero or missed its plan) counts as one more failure, as does a bail-out.
// `# SKIP` and `# TODO` points count as neither and are reported on stderr.
//
// The raw runner stream is used rather than the reporter's output because the
// reporter changes with the terminal (`base` with colours, raw TAP without).
// tap-parser is the parser that tap itself uses, so the counts agree with tap.
import { readFileSync } from 'node:fs';
import { Parser } from 'tap-parser';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node .ci/tap-summary.mjs FILE.tap [FILE.tap ...]');
  process.exit(2);
}

const counts = { passed: 0, failed: 0, skipped: 0, todo: 0 };
const failures = [];

/** Tally one result; returns true when it is a failure. */
function tally(res, where) {
  if (res.todo) counts.todo++;
  else if (res.skip) counts.skipped++;
  else if (res.ok) counts.passed++;
  else {
    counts.failed++;
    failures.push(where ? `${where} > ${res.name}` : res.name);
    return true;
  }
  return false;
}

for (const file of files) {
  const parser = new Parser();
  // Direct children of the test file announced by the last `# Subtest:`,
  // tallied once its closing point arrives at the top level.
  let pending = null;
  parser.on('child', (child) => {
    const kids = { name: child.name, results: [] };
    pending = kids;
    child.on('assert', (res) => kids.results.push(res));
  });
  parser.on('assert', (res) => {
    const kids = pending;
    pending = null;
    if (kids === null) {
      // A top-level point with no subtest stream, e.g. the runner's `timeout!`.
      tally(res, '');
      return;
    }
    let childFailed = false;
    for (const r of kids.results) childFailed = tally(r, kids.name) || childFailed;
    if (!res.ok && !res.todo && !res.skip && !childFailed) {
      counts.failed++;
      const why = res.diag?.signal ? `signal ${res.diag.signal}`
        : res.diag?.exitCode != null ? `exit code ${res.diag.exitCode}`
          : res.name;
      failures.push(`${kids.name || res.name} (${why})`);
    } else if (kids.results.length === 0) {
      // A file that produced no points of its own still is one test.
      tally(res, '');
    }
  });
  parser.on('bailout', (reason) => {
    counts.failed++;
    failures.push(`bail out: ${reason}`);
  });
  parser.end(readFileSync(file, 'utf8'));
}

for (const f of failures) console.error(`not ok: ${f}`);
if (counts.skipped || counts.todo) console.error(`(${counts.skipped} skipped, ${counts.todo} todo)`);
console.log(`${counts.passed} passed, ${counts.failed} failed`);
process.exitCode = counts.failed === 0 ? 0 : 1;
