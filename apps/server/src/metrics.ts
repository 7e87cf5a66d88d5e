/**
 * A small Prometheus text exposition (format 0.0.4). Hand-written rather than prom-client:
 * the server exposes a handful of series and this keeps the hot path to a few additions.
 */

type Labels = Record<string, string>

function labelText(labels: Labels): string {
  const entries = Object.entries(labels)
  if (entries.length === 0) return ''
  const body = entries
    .map(
      ([key, value]) => `${key}="${value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`,
    )
    .join(',')
  return `{${body}}`
}

interface Metric {
  render(): string
}

export class Counter implements Metric {
  private readonly values = new Map<string, { labels: Labels; value: number }>()
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels)
    const entry = this.values.get(key)
    if (entry) entry.value += by
    else this.values.set(key, { labels, value: by })
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelText(labels))?.value ?? 0
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`]
    for (const { labels, value } of this.values.values())
      lines.push(`${this.name}${labelText(labels)} ${value}`)
    return lines.join('\n')
  }
}

export class Gauge implements Metric {
  private value = 0
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly collect?: () => number,
  ) {}
  inc(by = 1): void {
    this.value += by
  }
  dec(by = 1): void {
    this.value -= by
  }
  set(value: number): void {
    this.value = value
  }
  get(): number {
    return this.collect ? this.collect() : this.value
  }
  render(): string {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} gauge`,
      `${this.name} ${this.get()}`,
    ].join('\n')
  }
}

export class Histogram implements Metric {
  private readonly series = new Map<
    string,
    { labels: Labels; counts: number[]; sum: number; count: number }
  >()
  constructor(
    readonly name: string,
    readonly help: string,
    /** Upper bounds in seconds, ascending. */
    readonly buckets: readonly number[],
  ) {}
  observe(seconds: number, labels: Labels = {}): void {
    const key = labelText(labels)
    let entry = this.series.get(key)
    if (!entry) {
      entry = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 }
      this.series.set(key, entry)
    }
    for (let i = 0; i < this.buckets.length; i++) {
      if (seconds <= (this.buckets[i] ?? Number.POSITIVE_INFINITY))
        entry.counts[i] = (entry.counts[i] ?? 0) + 1
    }
    entry.sum += seconds
    entry.count += 1
  }
  count(labels: Labels = {}): number {
    return this.series.get(labelText(labels))?.count ?? 0
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`]
    for (const { labels, counts, sum, count } of this.series.values()) {
      this.buckets.forEach((bound, i) => {
        lines.push(`${this.name}_bucket${labelText({ ...labels, le: String(bound) })} ${counts[i] ?? 0}`)
      })
      lines.push(`${this.name}_bucket${labelText({ ...labels, le: '+Inf' })} ${count}`)
      lines.push(`${this.name}_sum${labelText(labels)} ${sum}`)
      lines.push(`${this.name}_count${labelText(labels)} ${count}`)
    }
    return lines.join('\n')
  }
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]

/** The server's series. One instance per server (tests run several in one process). */
export class ServerMetrics {
  readonly turnsStarted = new Counter(
    'parley_turns_started_total',
    'Turns this instance dispatched to the provider.',
  )
  readonly turns = new Counter(
    'parley_turns_total',
    'Turns this instance ran to a terminal status, by status.',
  )
  readonly providerLatency = new Histogram(
    'parley_provider_call_seconds',
    'Duration of one provider call (one model step), by outcome.',
    LATENCY_BUCKETS,
  )
  readonly timeToFirstToken = new Histogram(
    'parley_time_to_first_token_seconds',
    'Time from the start of a turn to its first streamed output.',
    LATENCY_BUCKETS,
  )
  readonly activeStreams = new Gauge('parley_active_streams', 'tRPC subscriptions streaming turn events now.')
  readonly wsConnections = new Gauge('parley_websocket_connections', 'Open WebSocket connections.')
  readonly httpRequests = new Counter(
    'parley_http_requests_total',
    'HTTP requests, by route and status class.',
  )
  private dbReady = 0
  private readonly dbReadyGauge = new Gauge(
    'parley_database_ready',
    '1 when the database is reachable and migrated.',
    () => this.dbReady,
  )

  /** Renders every series; `ready` is probed by the caller just before. */
  render(ready: boolean): string {
    this.dbReady = ready ? 1 : 0
    const metrics: Metric[] = [
      this.turnsStarted,
      this.turns,
      this.providerLatency,
      this.timeToFirstToken,
      this.activeStreams,
      this.wsConnections,
      this.httpRequests,
      this.dbReadyGauge,
    ]
    return `${metrics.map((metric) => metric.render()).join('\n')}\n`
  }
}
