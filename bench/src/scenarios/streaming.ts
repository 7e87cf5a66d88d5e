import type { ParleyClient, Transport } from '@parley/client'
import { runInterleaved } from '../load.ts'
import { type StreamPath, statelessStreamPath, trpcStreamPath, v1StreamPath } from '../paths.ts'
import type { StreamTiming } from '../responses-http.ts'
import { ResultBuilder, type Scenario } from '../results.ts'
import { fmtMs, fmtRatio, ratio, summarize } from '../stats.ts'

interface Row {
  path: string
  turns: number
  ttftP50: number
  ttftP99: number
  perDeltaP50: number
  totalP50: number
  errors: number
}

export const streaming: Scenario = {
  id: 'streaming',
  title: '2. Streaming: time to first token and time per delta',
  async run(context) {
    const { turns, warmup } = context.config.streaming
    const result = new ResultBuilder(this.id, this.title)
    result.method.push(
      `${turns} streamed turns per path, one at a time and the paths in turn (one turn of each, round after round, after ${warmup} warm-up rounds: a machine that speeds up or slows down during the run does so for every path alike), each a 20-word reply. Time to first token: from sending the request to the first text delta the client reads. Time per delta: (last delta − first delta) / (deltas − 1) within one stream. "Added" is the path's p50 minus the direct p50.`,
      'Direct and peer: `POST /v1/responses` with `stream: true`. Parley `/v1` SSE: the same with `previous_response_id`. Parley tRPC: `streamTurn` over WebSocket and over SSE (`httpSubscriptionLink`), first `text.delta` event. Parley runs on Postgres.',
    )
    const paths: StreamPath[] = [
      statelessStreamPath('direct', context.upstream.endpoint),
      statelessStreamPath('peer', context.peer.endpoint),
    ]
    try {
      const parley = await context.parley('postgres')
      paths.push(v1StreamPath('Parley /v1 SSE', parley.v1))
      for (const transport of ['ws', 'sse'] as Transport[]) {
        const client: ParleyClient = context.client(parley, transport)
        paths.push(trpcStreamPath(`Parley tRPC ${transport === 'ws' ? 'WebSocket' : 'SSE'}`, () => client))
      }
    } catch (error) {
      result.skipped('Parley', error)
    }

    // Every path's turns interleaved (one of each in turn), so the added figures compare turns
    // made under the same machine load.
    const prepared: { label: string; operation: () => Promise<StreamTiming> }[] = []
    for (const path of paths) {
      try {
        const operation = await path.prepare(1)
        prepared.push({ label: path.label, operation: () => operation(0) })
      } catch (error) {
        result.skipped(path.label, error)
      }
    }
    const run = await runInterleaved(
      prepared.map((path) => path.operation),
      { rounds: turns, durationMs: 600_000, warmup },
    )
    const rows: Row[] = prepared.map((path, index) => {
      const timings = run.values[index] ?? []
      const errors = run.errors[index] ?? 0
      const ttft = summarize(timings.map((t) => t.ttftMs))
      context.log(`${path.label}: ttft p50 ${fmtMs(ttft.p50)} ms, errors ${errors}`)
      if (errors > 0) {
        result.notes.push(
          `${path.label}: ${errors} errors, e.g. ${(run.errorSamples[index] ?? []).join(' / ')}`,
        )
      }
      return {
        path: path.label,
        turns: timings.length,
        ttftP50: ttft.p50,
        ttftP99: ttft.p99,
        perDeltaP50: summarize(timings.map((t) => t.perDeltaMs)).p50,
        totalP50: summarize(timings.map((t) => t.totalMs)).p50,
        errors,
      }
    })
    result.data['rows'] = rows
    const direct = rows.find((r) => r.path === 'direct')
    result.tables.push({
      caption: 'Streamed turns (ms)',
      columns: [
        'path',
        'TTFT p50',
        '× direct',
        'added TTFT',
        'TTFT p99',
        'per delta p50',
        'added per delta',
        'whole stream p50',
        '× direct',
        'errors',
      ],
      rows: rows.map((r) => [
        r.path,
        fmtMs(r.ttftP50),
        fmtRatio(ratio(r.ttftP50, direct?.ttftP50)),
        direct ? fmtMs(r.ttftP50 - direct.ttftP50) : '–',
        fmtMs(r.ttftP99),
        fmtMs(r.perDeltaP50),
        direct ? fmtMs(r.perDeltaP50 - direct.perDeltaP50) : '–',
        fmtMs(r.totalP50),
        fmtRatio(ratio(r.totalP50, direct?.totalP50)),
        String(r.errors),
      ]),
    })
    result.charts.push({
      kind: 'bar',
      title: 'Streaming: added time (ms) over direct, p50',
      yLabel: 'ms',
      categories: ['added time to first token', 'added whole-stream time'],
      series: rows
        .filter((r) => r.path !== 'direct')
        .map((r) => ({
          name: r.path,
          values: [direct ? r.ttftP50 - direct.ttftP50 : null, direct ? r.totalP50 - direct.totalP50 : null],
        })),
    })
    const peer = rows.find((r) => r.path === 'peer')
    for (const label of ['Parley tRPC WebSocket', 'Parley tRPC SSE', 'Parley /v1 SSE']) {
      const r = rows.find((x) => x.path === label)
      const added = r && direct ? r.ttftP50 - direct.ttftP50 : null
      result.targets.push({
        target: `${label}: added time to first token ≤ 2 ms`,
        measured: added === null ? '–' : `${fmtMs(added)} ms`,
        met: added === null ? null : added <= 2,
        ...(added !== null && added > 2
          ? {
              note: `over by ${fmtMs(added - 2)} ms. Why: before the first token can leave, Parley claims the request id, stores the input and reads the context (one statement), then makes the same upstream call through the openai SDK, and relays each delta through its event stream to the subscriber's transport. Two of these are required by the design: the claim before the model is called (about 1.15 ms of wall time on this machine) and the openai SDK (0.26–0.40 ms over a bare call). Together they take 1.4–1.6 ms before the transport's own handling, validation and the run's start are counted, so the target cannot be met here without giving one of them up — see docs/performance.md, the seventh round`,
            }
          : {}),
      })
      if (added !== null && direct && peer) {
        result.headlines.push({
          label: `${label}: added time to first token (peer adds ${fmtMs(peer.ttftP50 - direct.ttftP50)} ms)`,
          value: `+${fmtMs(added)} ms`,
        })
      }
    }
    return result.build()
  },
}
