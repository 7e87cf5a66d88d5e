import type { StorageKind } from '../context.ts'
import { ResultBuilder, type Scenario } from '../results.ts'
import { fmtMs, fmtRatio, median, ratio } from '../stats.ts'
import { type ParleyStorage, startParley, startPeer, startUpstream } from '../systems.ts'

interface Row {
  path: string
  samples: number[]
  p50: number
}

export const coldStart: Scenario = {
  id: 'cold-start',
  title: '7. Cold start: process start to ready',
  async run(context) {
    const reps = context.config.coldStart.reps
    const result = new ResultBuilder(this.id, this.title)
    result.method.push(
      `Time from spawning the process to its first successful readiness answer (Parley: \`GET /readyz\` = 200, database reachable and migrated; polled every 5 ms), median of ${reps}. "New": an empty PGlite data directory or an empty Postgres database (Parley creates and migrates its schema). "Existing": the same directory or database again, already migrated, after a clean stop. The direct figure is the fake upstream (a Node HTTP server started the same way, through tsx); the peer is measured to its first HTTP answer. Every start includes loading TypeScript through tsx, as \`pnpm start\` does.`,
    )
    const rows: Row[] = []
    const add = (path: string, samples: number[]) => {
      rows.push({ path, samples, p50: median(samples) })
      context.log(`${path}: ${fmtMs(median(samples))} ms`)
    }

    const upstreamSamples: number[] = []
    const peerSamples: number[] = []
    for (let i = 0; i < reps; i++) {
      const upstream = await startUpstream()
      upstreamSamples.push(upstream.child.readyMs)
      try {
        const peer = await startPeer(upstream, true)
        peerSamples.push(peer.child.readyMs)
        await peer.stop()
      } finally {
        await upstream.stop()
      }
    }
    add('direct (fake upstream process)', upstreamSamples)
    add('peer', peerSamples)

    for (const kind of ['pglite', 'postgres'] as StorageKind[]) {
      const name = kind === 'pglite' ? 'PGlite' : 'Postgres'
      try {
        const fresh: number[] = []
        const existing: number[] = []
        for (let i = 0; i < reps; i++) {
          const storage: ParleyStorage = await context.newStorage(kind)
          const first = await startParley({
            name: `parley (${kind}, cold)`,
            storage,
            upstream: context.upstream,
          })
          fresh.push(first.child.readyMs)
          await first.stop()
          const again = await startParley({
            name: `parley (${kind}, warm)`,
            storage,
            upstream: context.upstream,
          })
          existing.push(again.child.readyMs)
          await again.stop()
        }
        add(`Parley/${name}, new`, fresh)
        add(`Parley/${name}, existing`, existing)
      } catch (error) {
        result.skipped(`Parley on ${name}`, error)
      }
    }
    result.data['rows'] = rows
    const direct = rows[0]
    result.tables.push({
      caption: 'Process start to ready (ms)',
      columns: ['process', 'p50', '× direct', 'samples'],
      rows: rows.map((r) => [
        r.path,
        fmtMs(r.p50),
        fmtRatio(ratio(r.p50, direct?.p50)),
        r.samples.map(fmtMs).join(', '),
      ]),
    })
    result.charts.push({
      kind: 'bar',
      title: 'Cold start: process start to ready (ms)',
      yLabel: 'ms',
      categories: ['start to ready'],
      series: rows.map((r) => ({ name: r.path, values: [r.p50] })),
    })
    for (const label of ['Parley/Postgres, existing', 'Parley/PGlite, existing', 'Parley/PGlite, new']) {
      const r = rows.find((x) => x.path === label)
      if (r && direct) {
        result.headlines.push({
          label: `Cold start, ${label.replace('Parley/', '')} (direct process: ${fmtMs(direct.p50)} ms)`,
          value: `${fmtMs(r.p50)} ms (${fmtRatio(ratio(r.p50, direct.p50))})`,
        })
      }
    }
    return result.build()
  },
}
