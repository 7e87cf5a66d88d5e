import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { type ParleyClient, streamTurn } from '@parley/client'
import postgres from 'postgres'
import { mapLimit } from '../load.ts'
import { sampleRss } from '../procs.ts'
import { MODEL, ResponsesEndpoint } from '../responses-http.ts'
import { ResultBuilder, type Scenario } from '../results.ts'
import { fmtBytes, fmtInt, fmtMs, fmtRatio, ratio } from '../stats.ts'
import { startUpstream } from '../systems.ts'

interface Row {
  path: string
  streams: number
  errors: number
  /** Streams that ended complete but with fewer or more deltas than the upstream sent. */
  incomplete: number
  wallMs: number
  baselineRss: number | null
  peakRss: number | null
}

/**
 * Counts INSERT statements into the event log with a statement-level trigger on the throwaway
 * database (a sequence, so concurrent writers never wait on each other).
 */
async function countEventWrites(url: string) {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  await sql.unsafe(`
    create sequence if not exists bench_event_log_writes;
    create or replace function bench_count_event_write() returns trigger language plpgsql as
      $$ begin perform nextval('bench_event_log_writes'); return null; end $$;
    drop trigger if exists bench_count_event_write on turn_event_batches;
    create trigger bench_count_event_write after insert on turn_event_batches
      for each statement execute function bench_count_event_write();
  `)
  const read = async () => {
    const [row] = await sql<
      { last_value: string; is_called: boolean }[]
    >`select last_value, is_called from bench_event_log_writes`
    const [rows] = await sql<
      { n: string }[]
    >`select coalesce(sum(last_seq - first_seq + 1), 0)::text as n from turn_event_batches`
    return { statements: row?.is_called ? Number(row.last_value) : 0, rows: Number(rows?.n ?? 0) }
  }
  return { read, close: () => sql.end({ timeout: 5 }) }
}

export const manyStreams: Scenario = {
  id: 'many-streams',
  title: '5. Many streams: concurrent streamed turns',
  async run(context) {
    const { streams, deltas } = context.config.manyStreams
    const result = new ResultBuilder(this.id, this.title)
    result.method.push(
      `${fmtInt(streams)} streamed turns started at once, ${deltas} deltas each (a fake upstream of their own, ${deltas} words a reply, no delay). Parley (Postgres, a fresh server) gets them through \`streamTurn\` over WebSocket, one client connection per stream, each on its own conversation. Direct and peer get ${fmtInt(streams)} concurrent \`stream: true\` requests. An error is a stream that throws, ends with anything but a completed turn, or carries a different number of deltas than the upstream sent.`,
      "Peak memory: the server process's RSS, sampled every 25 ms during the run (baseline = just before). Event-log writes: INSERT statements into the event table, counted by a statement-level trigger the benchmark installs on the throwaway database, divided by the turns.",
    )
    const upstream = await startUpstream({ tokens: deltas })
    const rows: Row[] = []
    try {
      const direct = await runStateless('direct', upstream.endpoint, streams, deltas, null)
      rows.push(direct)
      const peerEndpoint = new ResponsesEndpoint(context.peer.endpoint.base, {
        ...context.peer.endpoint.headers,
        'x-portkey-custom-host': upstream.url,
      })
      rows.push(await runStateless('peer', peerEndpoint, streams, deltas, context.peer.child.pid))

      try {
        const parley = await context.freshParley('postgres', upstream)
        if (parley.storage.kind !== 'postgres') throw new Error('expected Postgres storage')
        const counter = await countEventWrites(parley.storage.url)
        try {
          const clients: ParleyClient[] = Array.from({ length: streams }, () => context.client(parley, 'ws'))
          const setup = clients[0] as ParleyClient
          const conversations = await mapLimit(clients, 16, () =>
            setup.conversations.create.mutate({ title: 'streams' }),
          )
          const before = await counter.read()
          const rss = sampleRss(parley.child.pid)
          const baselineRss = parley.child.rss()
          const t0 = performance.now()
          const outcomes = await Promise.all(
            clients.map(async (client, i) => {
              let received = 0
              try {
                const done = await streamTurn(
                  client,
                  {
                    requestId: randomUUID(),
                    conversationId: conversations[i]?.id ?? '',
                    input: 'Tell me a long story.',
                  },
                  {
                    onEvent: (event) => {
                      if (event.type === 'text.delta') received += 1
                    },
                  },
                )
                if (done.terminal.type !== 'turn.completed') return { ok: false, error: done.terminal.type }
                return {
                  ok: received === deltas,
                  incomplete: received !== deltas,
                  error: `${received} deltas`,
                }
              } catch (error) {
                return { ok: false, error: String(error) }
              }
            }),
          )
          const wallMs = performance.now() - t0
          const peakRss = rss.stop()
          const after = await counter.read()
          const failed = outcomes.filter((o) => !o.ok)
          rows.push({
            path: 'Parley tRPC WebSocket',
            streams,
            errors: failed.length,
            incomplete: outcomes.filter((o) => 'incomplete' in o && o.incomplete).length,
            wallMs,
            baselineRss,
            peakRss,
          })
          result.data['eventLog'] = {
            statements: after.statements - before.statements,
            rows: after.rows - before.rows,
            statementsPerTurn: (after.statements - before.statements) / streams,
            rowsPerTurn: (after.rows - before.rows) / streams,
          }
          if (failed.length > 0) {
            result.notes.push(
              `Parley: ${failed.length} failed streams, e.g. ${[...new Set(failed.map((f) => f.error))].slice(0, 3).join(' / ')}`,
            )
          }
          context.log(`Parley: ${failed.length} errors in ${fmtMs(wallMs)} ms, peak RSS ${fmtBytes(peakRss)}`)
          for (const client of clients) client.close()
        } finally {
          await counter.close()
          await parley.stop()
        }
      } catch (error) {
        result.skipped('Parley', error)
      }
    } finally {
      await upstream.stop()
    }

    result.data['rows'] = rows
    const direct = rows.find((r) => r.path === 'direct')
    const peer = rows.find((r) => r.path === 'peer')
    result.tables.push({
      caption: `${fmtInt(streams)} concurrent streams of ${deltas} deltas`,
      columns: [
        'path',
        'errors',
        'wall time (ms)',
        '× direct',
        'RSS before',
        'peak RSS',
        'peak − before',
        '× peer',
      ],
      rows: rows.map((r) => [
        r.path,
        String(r.errors),
        fmtMs(r.wallMs),
        fmtRatio(ratio(r.wallMs, direct?.wallMs)),
        fmtBytes(r.baselineRss),
        fmtBytes(r.peakRss),
        r.peakRss !== null && r.baselineRss !== null ? fmtBytes(r.peakRss - r.baselineRss) : '–',
        fmtRatio(ratio(r.peakRss, peer?.peakRss)),
      ]),
    })
    const log = result.data['eventLog'] as { statementsPerTurn: number; rowsPerTurn: number } | undefined
    if (log) {
      result.tables.push({
        caption: 'Event-log writes per turn (Parley on Postgres)',
        columns: ['INSERT statements per turn', 'events stored per turn', 'deltas per turn'],
        rows: [[log.statementsPerTurn.toFixed(1), log.rowsPerTurn.toFixed(1), String(deltas)]],
      })
    }
    result.charts.push(
      {
        kind: 'bar',
        title: `${fmtInt(streams)} streams × ${deltas} deltas: wall time (ms)`,
        yLabel: 'ms',
        categories: ['wall time'],
        series: rows.map((r) => ({ name: r.path, values: [r.wallMs] })),
      },
      {
        kind: 'bar',
        title: 'Server process memory during the run (MiB)',
        yLabel: 'MiB',
        categories: ['RSS before', 'peak RSS'],
        series: rows
          .filter((r) => r.peakRss !== null)
          .map((r) => ({
            name: r.path,
            values: [
              r.baselineRss === null ? null : r.baselineRss / 2 ** 20,
              r.peakRss === null ? null : r.peakRss / 2 ** 20,
            ],
          })),
      },
    )
    const parleyRow = rows.find((r) => r.path === 'Parley tRPC WebSocket')
    result.targets.push({
      target: `${fmtInt(streams)} concurrent streams with 0 errors`,
      measured: parleyRow ? `${parleyRow.errors} errors` : '–',
      met: parleyRow ? parleyRow.errors === 0 : null,
    })
    if (parleyRow && direct) {
      result.headlines.push({
        label: `${fmtInt(streams)} streams × ${deltas} deltas: Parley wall time vs direct (peer: ${fmtRatio(ratio(peer?.wallMs, direct.wallMs))})`,
        value: `${fmtRatio(ratio(parleyRow.wallMs, direct.wallMs))}, ${parleyRow.errors} errors`,
      })
    }
    if (log) {
      result.headlines.push({
        label: `Event-log writes per ${deltas}-delta turn`,
        value: log.statementsPerTurn.toFixed(1),
      })
    }
    return result.build()
  },
}

async function runStateless(
  path: string,
  endpoint: ResponsesEndpoint,
  streams: number,
  deltas: number,
  pid: number | null,
): Promise<Row> {
  const rss = pid === null ? null : sampleRss(pid)
  const baselineRss = rss ? rss.peak() : null
  const t0 = performance.now()
  const outcomes = await Promise.all(
    Array.from({ length: streams }, async () => {
      try {
        const timing = await endpoint.stream({ model: MODEL, input: 'Tell me a long story.', store: false })
        return timing.deltas === deltas ? 'ok' : 'incomplete'
      } catch {
        return 'error'
      }
    }),
  )
  const wallMs = performance.now() - t0
  return {
    path,
    streams,
    errors: outcomes.filter((o) => o !== 'ok').length,
    incomplete: outcomes.filter((o) => o === 'incomplete').length,
    wallMs,
    baselineRss,
    peakRss: rss ? rss.stop() : null,
  }
}
