import type { Chart } from './svg.ts'

export interface Table {
  caption: string
  columns: string[]
  rows: string[][]
}

/** A target of the benchmark brief, checked against this run's figure. */
export interface TargetCheck {
  target: string
  measured: string
  /** null when the figure could not be measured in this run. */
  met: boolean | null
  note?: string
}

export interface Headline {
  label: string
  value: string
}

export interface ScenarioResult {
  /** File name under bench/results (`<id>.json`) and anchor in the report. */
  id: string
  title: string
  /** How it was measured: one paragraph per entry. */
  method: string[]
  /** Parts that could not run, and why. */
  notes: string[]
  tables: Table[]
  charts: Chart[]
  targets: TargetCheck[]
  headlines: Headline[]
  /** Raw figures, for anyone who wants to redo the tables. */
  data: Record<string, unknown>
  /** ISO time at which the scenario finished. */
  finishedAt: string
  durationMs: number
  quick: boolean
}

export interface Scenario {
  id: string
  title: string
  run(
    context: import('./context.ts').BenchContext,
  ): Promise<Omit<ScenarioResult, 'finishedAt' | 'durationMs' | 'quick'>>
}

/** Collects the parts of a result while a scenario runs. */
export class ResultBuilder {
  readonly method: string[] = []
  readonly notes: string[] = []
  readonly tables: Table[] = []
  readonly charts: Chart[] = []
  readonly targets: TargetCheck[] = []
  readonly headlines: Headline[] = []
  readonly data: Record<string, unknown> = {}

  constructor(
    readonly id: string,
    readonly title: string,
  ) {}

  /** Records why a part did not run, and goes on. */
  skipped(part: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error)
    const note = `${part} was not measured: ${message.split('\n')[0]}`
    if (!this.notes.includes(note)) this.notes.push(note)
    // The whole message (a child's last lines) goes to the console, not the report.
    process.stdout.write(`  ${part} skipped: ${message}\n`)
  }

  build(): Omit<ScenarioResult, 'finishedAt' | 'durationMs' | 'quick'> {
    return {
      id: this.id,
      title: this.title,
      method: this.method,
      notes: this.notes,
      tables: this.tables,
      charts: this.charts,
      targets: this.targets,
      headlines: this.headlines,
      data: this.data,
    }
  }
}
