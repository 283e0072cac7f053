// Summarises a results file written by the http-cache-tests CLI (a JSON
// object mapping test id to `true` or `[errorName, message]`).
//
// Usage: node summarize.mjs <results.json> [<summary.json>]
//
// It prints passed/total for the "required" and "optimal" kinds and one line
// per required or optimal test that did not pass, and writes a
// machine-readable summary to <summary.json> when given.
//
// "Passed" is the suite's own verdict (lib/display.mjs, as on
// cache-tests.fyi): a test only passes when it passed itself and every test in
// its depends_on passed too. Without that, a proxy that never caches would
// "pass" every "must not reuse" test. The raw count (result === true,
// dependencies ignored) is reported next to it.
import fs from 'node:fs'

import tests from 'http-cache-tests/tests/index.mjs'
import surrogate from 'http-cache-tests/tests/surrogate-control.mjs'
import { determineTestResult } from 'http-cache-tests/lib/display.mjs'

// The CLI runs the Surrogate-Control tests in addition to the default
// index (cli.mjs), so the summary must know them too.
tests.push(surrogate)

const SUITE_VERSION = JSON.parse(fs.readFileSync(
  new URL('./node_modules/http-cache-tests/package.json', import.meta.url))).version

// determineTestResult returns [fontSymbol, colour, textSymbol]; the text
// symbol identifies the verdict.
const VERDICTS = {
  '✅': 'pass',
  '⛔️': 'fail',
  '⚠️': 'optional_fail',
  Y: 'yes',
  N: 'no',
  '🔹': 'setup_fail',
  '⁉️': 'harness_fail',
  '⚪️': 'dependency_fail',
  '↻': 'retry',
  '-': 'untested'
}

function main (argv) {
  if (argv.length < 1 || argv.length > 2) {
    console.error('usage: node summarize.mjs <results.json> [<summary.json>]')
    return 2
  }
  const results = JSON.parse(fs.readFileSync(argv[0], 'utf8'))
  if (results === null || typeof results !== 'object' || Array.isArray(results)) {
    console.error(`${argv[0]}: not a results object`)
    return 1
  }
  const summary = summarize(results)
  console.log(render(summary))
  if (argv[1]) {
    fs.writeFileSync(argv[1], JSON.stringify(summary, null, 2) + '\n')
  }
  return 0
}

function summarize (results) {
  const kinds = {}
  const tests = []
  const known = new Set()
  for (const suite of allTests()) {
    for (const test of suite.tests) {
      // The CLI skips browser-only tests (client/runner.mjs); counting them
      // would make every run look incomplete.
      if (test.browser_only === true) continue
      known.add(test.id)
      const kind = test.kind || 'required'
      const result = results[test.id]
      const symbol = determineTestResult(allTests(), test.id, results)[2]
      const verdict = VERDICTS[symbol]
      if (verdict === undefined) throw new Error(`unknown verdict ${symbol} for ${test.id}`)
      const counts = kinds[kind] || (kinds[kind] = { total: 0, passed: 0, raw_passed: 0, verdicts: {} })
      counts.total++
      if (verdict === 'pass' || verdict === 'yes') counts.passed++
      if (result === true) counts.raw_passed++
      counts.verdicts[verdict] = (counts.verdicts[verdict] || 0) + 1
      const entry = {
        id: test.id,
        name: test.name,
        kind,
        suite: suite.id,
        verdict,
        raw_pass: result === true
      }
      if (Array.isArray(result)) {
        entry.error = result[0]
        entry.message = result[1]
      }
      if (verdict === 'dependency_fail') {
        entry.failed_dependencies = test.depends_on.filter(dep => {
          const v = VERDICTS[determineTestResult(allTests(), dep, results)[2]]
          return v !== 'pass' && v !== 'yes'
        })
      }
      tests.push(entry)
    }
  }
  return {
    suite: 'http-cache-tests',
    version: SUITE_VERSION,
    required: kinds.required,
    optimal: kinds.optimal,
    check: kinds.check,
    // Ids in the results that the suite does not define point at a mismatch
    // between the installed suite and the one that produced the results.
    unknown_results: Object.keys(results).filter(id => !known.has(id)),
    tests
  }
}

function allTests () {
  return tests
}

function render (summary) {
  const lines = [`http-cache-tests ${summary.version}`]
  for (const kind of ['required', 'optimal']) {
    const c = summary[kind]
    const detail = Object.entries(c.verdicts)
      .filter(([v]) => v !== 'pass')
      .map(([v, n]) => `${n} ${v}`)
      .join(', ')
    lines.push(`${kind}: ${c.passed}/${c.total} passed (raw ${c.raw_passed}/${c.total} ignoring dependencies${detail ? '; ' + detail : ''})`)
  }
  const check = summary.check
  lines.push(`check: ${check.passed}/${check.total} yes (informational)`)
  if (summary.unknown_results.length) {
    lines.push(`results for unknown test ids: ${summary.unknown_results.join(', ')}`)
  }
  for (const kind of ['required', 'optimal']) {
    for (const t of summary.tests) {
      if (t.kind !== kind || t.verdict === 'pass') continue
      let why = t.message || ''
      if (t.verdict === 'dependency_fail') {
        why = `depends on ${t.failed_dependencies.join(', ')}` + (t.raw_pass ? ' (the test itself passed)' : why ? `; ${why}` : '')
      }
      lines.push(`FAIL [${kind}] ${t.id} (${t.verdict}${t.error ? ': ' + t.error : ''}): ${t.name} -- ${why}`)
    }
  }
  return lines.join('\n')
}

process.exitCode = main(process.argv.slice(2))
