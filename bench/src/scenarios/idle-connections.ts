import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import WebSocket from 'ws'
import { mapLimit } from '../load.ts'
import { type Child, startNode } from '../procs.ts'
import { ResultBuilder, type Scenario } from '../results.ts'
import { fmtBytes, fmtInt, fmtRatio, ratio } from '../stats.ts'
import { BENCH_DIR } from '../systems.ts'

interface Row {
  path: string
  connections: number
  before: number
  after: number
  perConnection: number
  /** Connections the server itself reports as open. */
  serverCount: number | null
}

/** Opens `count` WebSockets to `url` (a few hundred handshakes at a time) and keeps them idle. */
async function openMany(url: string, count: number): Promise<WebSocket[]> {
  return mapLimit(
    Array.from({ length: count }),
    200,
    () =>
      new Promise<WebSocket>((resolve, reject) => {
        const socket = new WebSocket(url, { perMessageDeflate: false })
        socket.once('open', () => resolve(socket))
        socket.once('error', reject)
      }),
  )
}

async function closeAll(sockets: WebSocket[]): Promise<void> {
  await Promise.all(
    sockets.map(
      (socket) =>
        new Promise<void>((resolve) => {
          if (socket.readyState === WebSocket.CLOSED) return resolve()
          socket.once('close', () => resolve())
          socket.terminate()
        }),
    ),
  )
}

/** RSS after the process has been left alone for a moment (the median of a few samples). */
async function settledRss(child: Child): Promise<number> {
  await sleep(1500)
  const samples: number[] = []
  for (let i = 0; i < 5; i++) {
    samples.push(child.rss())
    await sleep(100)
  }
  return samples.sort((a, b) => a - b)[2] ?? Number.NaN
}

async function measure(
  path: string,
  child: Child,
  wsUrl: string,
  count: number,
  serverCount: () => Promise<number | null>,
) {
  const before = await settledRss(child)
  const sockets = await openMany(wsUrl, count)
  try {
    const after = await settledRss(child)
    return {
      path,
      connections: count,
      before,
      after,
      perConnection: (after - before) / count,
      serverCount: await serverCount(),
    }
  } finally {
    await closeAll(sockets)
  }
}

export const idleConnections: Scenario = {
  id: 'idle-connections',
  title: '6. Idle connections: memory per WebSocket client',
  async run(context) {
    const count = context.config.idle.connections
    const result = new ResultBuilder(this.id, this.title)
    result.method.push(
      `${fmtInt(count)} WebSocket connections opened to the server's tRPC endpoint and left idle (no subscription, as a client that has opened the app and waits). Memory per connection = (RSS with the connections − RSS before) / ${fmtInt(count)}, each RSS the median of five samples after 1.5 s of quiet, on a fresh Parley (Postgres). The direct figure is a bare Node \`ws\` server that accepts connections and does nothing: the floor for a WebSocket in Node. RSS includes garbage not yet collected, so this is an upper bound.`,
    )
    const rows: Row[] = []
    const bare = await startNode({
      name: 'bare ws server',
      args: ['--import', 'tsx', `${BENCH_DIR}src/children/bare-ws.ts`],
      cwd: BENCH_DIR,
    })
    try {
      rows.push(
        await measure('bare ws server (floor)', bare, bare.url.replace(/^http/, 'ws'), count, async () => {
          return (await bare.ask<{ count: number }>({ type: 'clients' })).count
        }),
      )
    } finally {
      await bare.stop()
    }
    try {
      const parley = await context.freshParley('postgres')
      try {
        rows.push(
          await measure(
            'Parley tRPC WebSocket',
            parley.child,
            `${parley.url.replace(/^http/, 'ws')}/trpc`,
            count,
            async () => {
              const response = await request(`${parley.url}/metrics`)
              const text = await response.body.text()
              const match = /^parley_websocket_connections (\d+)/m.exec(text)
              return match?.[1] ? Number(match[1]) : null
            },
          ),
        )
      } finally {
        await parley.stop()
      }
    } catch (error) {
      result.skipped('Parley', error)
    }
    for (const r of rows) context.log(`${r.path}: ${fmtBytes(r.perConnection)} per connection`)
    result.data['rows'] = rows
    const floor = rows[0]
    result.tables.push({
      caption: `${fmtInt(count)} idle WebSocket connections`,
      columns: [
        'server',
        'RSS before',
        'RSS with connections',
        'per connection',
        '× floor',
        'open per server',
      ],
      rows: rows.map((r) => [
        r.path,
        fmtBytes(r.before),
        fmtBytes(r.after),
        fmtBytes(r.perConnection),
        fmtRatio(ratio(r.perConnection, floor?.perConnection)),
        r.serverCount === null ? '–' : fmtInt(r.serverCount),
      ]),
    })
    result.charts.push({
      kind: 'bar',
      title: 'Memory per idle WebSocket connection (KiB)',
      yLabel: 'KiB',
      categories: ['per connection'],
      series: rows.map((r) => ({ name: r.path, values: [r.perConnection / 1024] })),
    })
    const parleyRow = rows.find((r) => r.path === 'Parley tRPC WebSocket')
    const kb = parleyRow ? parleyRow.perConnection / 1000 : null
    result.targets.push({
      target: `≤ 30 KB per idle connection at ${fmtInt(count)} connections`,
      measured: parleyRow ? fmtBytes(parleyRow.perConnection) : '–',
      met: kb === null ? null : kb <= 30,
      ...(kb !== null && kb > 30 ? { note: `over by ${(kb - 30).toFixed(1)} KB` } : {}),
    })
    if (parleyRow && floor) {
      result.headlines.push({
        label: `Memory per idle WebSocket client (bare ws floor: ${fmtBytes(floor.perConnection)})`,
        value: fmtBytes(parleyRow.perConnection),
      })
    }
    return result.build()
  },
}
