import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { streamTurn } from '@parley/client'
import { request } from 'undici'
import type { BenchContext } from '../context.ts'
import { dispatcher, historyItems, MODEL, type ResponsesEndpoint } from '../responses-http.ts'
import { ResultBuilder, type Scenario } from '../results.ts'
import { fmtMs, fmtRatio, ratio, summarize } from '../stats.ts'

interface StormRow {
  path: string
  sends: number
  upstreamCalls: number
  /** Latency of the request that started the work (Parley) or of all requests (stateless paths). */
  firstP50: number
  duplicatesP50: number
  duplicatesP99: number
  errors: number
  /** Distinct response/turn ids handed out. */
  distinctIds: number
}

async function storm<T>(count: number, send: () => Promise<T>) {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const t0 = performance.now()
      try {
        const value = await send()
        return { ok: true as const, ms: performance.now() - t0, value }
      } catch (error) {
        return { ok: false as const, ms: performance.now() - t0, error: String(error) }
      }
    }),
  )
}

async function statelessStorm(
  context: BenchContext,
  path: string,
  endpoint: ResponsesEndpoint,
  count: number,
) {
  const before = await context.upstream.calls()
  const body = { model: MODEL, input: historyItems(0, 'Book one table for two, please.'), store: false }
  const outcomes = await storm(count, () => endpoint.create(body, { 'idempotency-key': 'storm' }))
  const ok = outcomes.filter((o) => o.ok)
  const latencies = summarize(ok.map((o) => o.ms))
  return {
    path,
    sends: count,
    upstreamCalls: (await context.upstream.calls()) - before,
    firstP50: latencies.p50,
    duplicatesP50: latencies.p50,
    duplicatesP99: latencies.p99,
    errors: count - ok.length,
    distinctIds: new Set(ok.map((o) => (o.ok ? o.value.id : ''))).size,
  } satisfies StormRow
}

export const idempotency: Scenario = {
  id: 'idempotency',
  title: '3. Idempotency storm: one request id sent 200 times at once',
  async run(context) {
    const count = context.config.idempotency.duplicates
    const result = new ResultBuilder(this.id, this.title)
    result.method.push(
      `${count} identical sends fired at once, each its own HTTP request. Parley tRPC: \`POST /trpc/chat.send\` with one \`requestId\` (unbatched, as ${count} retrying clients would send it), then one \`streamTurn\` on the same request id to wait for the end. Parley \`/v1\`: \`POST /v1/responses\` with one \`Idempotency-Key\`; every duplicate waits for the whole response. Upstream calls are read from the fake upstream's own call counter before and after. Direct and peer get the same ${count} requests: they have no idempotency, so every send is a model call.`,
    )
    const rows: StormRow[] = []
    rows.push(await statelessStorm(context, 'direct', context.upstream.endpoint, count))
    rows.push(await statelessStorm(context, 'peer', context.peer.endpoint, count))

    try {
      const parley = await context.parley('postgres')
      const client = context.client(parley, 'ws')
      const conversation = await client.conversations.create.mutate({ title: 'storm' })
      const requestId = randomUUID()
      const input = { requestId, conversationId: conversation.id, input: 'Book one table for two, please.' }
      const before = await context.upstream.calls()
      const outcomes = await storm(count, async () => {
        const response = await request(`${parley.url}/trpc/chat.send`, {
          method: 'POST',
          dispatcher,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(input),
        })
        const text = await response.body.text()
        if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}: ${text.slice(0, 160)}`)
        return (JSON.parse(text) as { result: { data: { turn: { id: string }; replayed: boolean } } }).result
          .data
      })
      const done = await streamTurn(client, input)
      const ok = outcomes.flatMap((o) => (o.ok ? [{ ms: o.ms, ...o.value }] : []))
      const first = ok.filter((o) => !o.replayed)
      const duplicates = summarize(ok.filter((o) => o.replayed).map((o) => o.ms))
      rows.push({
        path: 'Parley tRPC chat.send',
        sends: count,
        upstreamCalls: (await context.upstream.calls()) - before,
        firstP50: summarize(first.map((o) => o.ms)).p50,
        duplicatesP50: duplicates.p50,
        duplicatesP99: duplicates.p99,
        errors: count - ok.length,
        distinctIds: new Set(ok.map((o) => o.turn.id)).size,
      })
      result.data['trpcTerminal'] = done.terminal.type
      result.data['trpcFirstSends'] = first.length
      const errors = outcomes.flatMap((o) => (o.ok ? [] : [o.error]))
      if (errors.length > 0)
        result.notes.push(`tRPC storm errors: ${[...new Set(errors)].slice(0, 3).join(' / ')}`)
    } catch (error) {
      result.skipped('Parley tRPC', error)
    }

    try {
      const parley = await context.parley('postgres')
      const before = await context.upstream.calls()
      const key = randomUUID()
      const outcomes = await storm(count, () =>
        parley.v1.create(
          { model: MODEL, input: 'Book one table for two, please.' },
          { 'idempotency-key': key },
        ),
      )
      const ok = outcomes.flatMap((o) => (o.ok ? [{ ms: o.ms, id: o.value.id }] : []))
      const latencies = summarize(ok.map((o) => o.ms))
      rows.push({
        path: 'Parley /v1 Idempotency-Key',
        sends: count,
        upstreamCalls: (await context.upstream.calls()) - before,
        firstP50: latencies.min,
        duplicatesP50: latencies.p50,
        duplicatesP99: latencies.p99,
        errors: count - ok.length,
        distinctIds: new Set(ok.map((o) => o.id)).size,
      })
      const errors = outcomes.flatMap((o) => (o.ok ? [] : [o.error]))
      if (errors.length > 0)
        result.notes.push(`/v1 storm errors: ${[...new Set(errors)].slice(0, 3).join(' / ')}`)
    } catch (error) {
      result.skipped('Parley /v1', error)
    }

    result.data['rows'] = rows
    const direct = rows.find((r) => r.path === 'direct')
    result.tables.push({
      caption: `${count} concurrent sends of one request`,
      columns: [
        'path',
        'upstream calls',
        '× direct',
        'distinct ids',
        'latency p50 (ms)',
        '× direct',
        'p99 (ms)',
        'errors',
      ],
      rows: rows.map((r) => [
        r.path,
        String(r.upstreamCalls),
        fmtRatio(ratio(r.upstreamCalls, direct?.upstreamCalls)),
        String(r.distinctIds),
        fmtMs(r.duplicatesP50),
        fmtRatio(ratio(r.duplicatesP50, direct?.duplicatesP50)),
        fmtMs(r.duplicatesP99),
        String(r.errors),
      ]),
    })
    result.method.push(
      'For Parley tRPC the latency columns are those of the duplicates (answered `replayed: true`); `chat.send` returns as soon as the turn is claimed, so these are claim-or-replay times, not model times. For `/v1` every request waits for the finished response.',
    )
    result.charts.push({
      kind: 'bar',
      title: `Upstream (model) calls for ${count} identical sends`,
      yLabel: 'calls',
      categories: ['upstream calls'],
      series: rows.map((r) => ({ name: r.path, values: [r.upstreamCalls] })),
    })
    for (const label of ['Parley tRPC chat.send', 'Parley /v1 Idempotency-Key']) {
      const r = rows.find((x) => x.path === label)
      result.targets.push({
        target: `${label}: exactly 1 upstream call for ${count} sends`,
        measured: r ? `${r.upstreamCalls} call(s), ${r.errors} errors` : '–',
        met: r ? r.upstreamCalls === 1 && r.errors === 0 : null,
      })
      if (r && direct) {
        result.headlines.push({
          label: `${label}: upstream calls for ${count} identical sends (direct: ${direct.upstreamCalls})`,
          value: `${r.upstreamCalls}`,
        })
      }
    }
    const trpc = rows.find((r) => r.path === 'Parley tRPC chat.send')
    if (trpc) result.data['trpcWinnerP50'] = fmtMs(trpc.firstP50)
    return result.build()
  },
}
