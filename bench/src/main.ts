import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { benchConfig } from './config.ts'
import { BenchContext } from './context.ts'
import { chartFiles, renderReport } from './report.ts'
import type { Scenario, ScenarioResult } from './results.ts'
import { scenarios } from './scenarios/index.ts'
import { BENCH_DIR, REPO_ROOT } from './systems.ts'

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})

if (values.help) {
  process.stdout.write(
    [
      'Usage: pnpm bench [--quick] [--only id,id]',
      `Scenarios: ${scenarios.map((s) => s.id).join(', ')}`,
      'Writes bench/results/<scenario>.json (+ SVG plots) and docs/benchmarks.md.',
      '',
    ].join('\n'),
  )
  process.exit(0)
}

const only = values.only ? new Set(values.only.split(',').map((id) => id.trim())) : null
const unknown = only ? [...only].filter((id) => !scenarios.some((s) => s.id === id)) : []
if (unknown.length > 0) {
  process.stderr.write(`unknown scenario: ${unknown.join(', ')}\n`)
  process.exit(2)
}
const selected: Scenario[] = scenarios.filter((s) => !only || only.has(s.id))

const resultsDir = join(BENCH_DIR, 'results')
mkdirSync(resultsDir, { recursive: true })
const config = benchConfig(values.quick ?? false)
const startedAt = new Date()
const runStart = performance.now()

process.stdout.write(
  `Parley benchmarks (${config.quick ? 'quick' : 'full'}): starting the upstream and the peer…\n`,
)
const context = await BenchContext.start(config)
let failed = 0
try {
  for (const scenario of selected) {
    process.stdout.write(`▶ ${scenario.title}\n`)
    const t0 = performance.now()
    let result: ScenarioResult
    try {
      const built = await scenario.run(context)
      result = {
        ...built,
        finishedAt: new Date().toISOString(),
        durationMs: performance.now() - t0,
        quick: config.quick,
      }
    } catch (error) {
      failed += 1
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
      process.stdout.write(`  failed: ${message}\n`)
      result = {
        id: scenario.id,
        title: scenario.title,
        method: [],
        notes: [`This scenario failed: ${message.split('\n')[0]}`],
        tables: [],
        charts: [],
        targets: [],
        headlines: [],
        data: {},
        finishedAt: new Date().toISOString(),
        durationMs: performance.now() - t0,
        quick: config.quick,
      }
    }
    writeFileSync(join(resultsDir, `${result.id}.json`), `${JSON.stringify(result, null, 2)}\n`)
    for (const file of chartFiles(result)) writeFileSync(join(resultsDir, file.name), file.svg)
    process.stdout.write(`  done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)
  }
} finally {
  await context.close()
}

// The report covers every scenario: those not selected this time keep their last stored result.
const results: ScenarioResult[] = []
for (const scenario of scenarios) {
  const file = join(resultsDir, `${scenario.id}.json`)
  if (existsSync(file)) results.push(JSON.parse(readFileSync(file, 'utf8')) as ScenarioResult)
}
const durationMs = performance.now() - runStart
const report = renderReport(
  {
    quick: config.quick,
    startedAt: startedAt.toISOString(),
    durationMs,
    command: `pnpm bench${config.quick ? ' --quick' : ''}${only ? ` --only ${[...only].join(',')}` : ''}`,
  },
  results,
  '../bench/results',
)
writeFileSync(join(REPO_ROOT, 'docs/benchmarks.md'), report)
process.stdout.write(
  `Wrote docs/benchmarks.md and bench/results/ in ${(durationMs / 60_000).toFixed(1)} min.\n`,
)
for (const result of results) {
  for (const headline of result.headlines) process.stdout.write(`  ${headline.label}: ${headline.value}\n`)
}
process.exit(failed > 0 ? 1 : 0)
