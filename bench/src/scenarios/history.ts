import { performance } from 'node:perf_hooks'
import type { ItemBody } from '@parley/core'
import { createStores } from '@parley/persistence'
import type { StorageKind } from '../context.ts'
import { QUESTION, timedTrpcTurn } from '../paths.ts'
import { historyItems, MODEL, type ResponsesEndpoint } from '../responses-http.ts'
import { ResultBuilder, type Scenario } from '../results.ts'
import { fmtMs, fmtRatio, ratio, summarize } from '../stats.ts'
import { type ParleyStorage, startParley } from '../systems.ts'

interface Thread {
  conversationId: string
  parentTurnId: string
}

interface Point {
  path: string
  items: number
  p50: number
  p99: number
  reps: number
}

function importedTurns(pairs: number) {
  const createdAt = new Date(Date.now() - pairs * 1000)
  return Array.from({ length: pairs }, (_, i) => ({
    input: [
      {
        type: 'message',
        role: 'user',
        status: 'completed',
        content: [{ type: 'input_text', text: `Question ${i}: what is ${i} + ${i}?` }],
      },
    ] as ItemBody[],
    output: [
      {
        type: 'message',
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_text', text: `${i} + ${i} = ${2 * i}. Anything else?`, annotations: [] }],
      },
    ] as ItemBody[],
    createdAt: new Date(createdAt.getTime() + i * 1000),
    model: MODEL,
  }))
}

/**
 * Seeds conversations of the given sizes straight into the store (one `importConversation` each,
 * the same store call the import procedure makes), before the server starts: PGlite's data
 * directory has one owner at a time.
 */
async function seed(storage: ParleyStorage, sizes: number[]): Promise<Map<number, Thread>> {
  const stores = await createStores(
    storage.kind === 'postgres' ? { url: storage.url } : { dataDir: storage.dataDir },
  )
  try {
    await stores.migrate()
    const user = await stores.users.localUser()
    const heads = new Map<number, Thread>()
    for (const size of sizes) {
      const imported = await stores.conversations.importConversation(user.id, {
        externalId: `bench:history:${size}`,
        title: `history of ${size} items`,
        metadata: {},
        createdAt: new Date(),
        updatedAt: new Date(),
        turns: importedTurns(size / 2),
      })
      if (!imported.conversation.headTurnId) throw new Error('the imported conversation has no head turn')
      heads.set(size, {
        conversationId: imported.conversation.id,
        parentTurnId: imported.conversation.headTurnId,
      })
    }
    return heads
  } finally {
    await stores.close()
  }
}

async function timeReps(
  reps: number,
  run: () => Promise<unknown>,
): Promise<{ p50: number; p99: number; reps: number }> {
  await run()
  const samples: number[] = []
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now()
    await run()
    samples.push(performance.now() - t0)
  }
  const s = summarize(samples)
  return { p50: s.p50, p99: s.p99, reps }
}

async function chain(endpoint: ResponsesEndpoint, length: number): Promise<string> {
  let previous: string | undefined
  for (let i = 0; i < length; i++) {
    const body: Record<string, unknown> = { model: MODEL, input: `Step ${i}: and then?` }
    if (previous) body['previous_response_id'] = previous
    previous = (await endpoint.create(body)).id
  }
  if (!previous) throw new Error('empty chain')
  return previous
}

export const history: Scenario = {
  id: 'history',
  title: '4. History growth: continuing long conversations',
  async run(context) {
    const { sizes, chain: chainLength, reps } = context.config.history
    const result = new ResultBuilder(this.id, this.title)
    result.method.push(
      `Time to run one more turn on a conversation that already holds ${sizes.join(', ')} items (user/assistant messages), median of ${reps} turns after one warm-up; each turn branches from the same head, so the context is the same every time. Parley's histories are seeded straight into the store before the server starts, with the store's \`importConversation\` (the call behind the import procedure), as completed turns; Parley then sends the whole stored context to the upstream (an imported turn has no upstream response to continue from).`,
      `Direct and peer: a stateless caller sends the whole history in \`input\` every time. Parley tRPC: \`streamTurn\` with \`parentTurnId\` = the head. Parley \`/v1\`: \`previous_response_id\` = the head. The \`previous_response_id\` chain of ${chainLength} is built through \`/v1\` itself (${chainLength} responses, each continuing the previous one), then continued.`,
    )
    const points: Point[] = []
    const add = (path: string, items: number, t: { p50: number; p99: number; reps: number }) => {
      points.push({ path, items, ...t })
      context.log(`${path} @ ${items} items: p50 ${fmtMs(t.p50)} ms`)
    }
    for (const size of sizes) {
      const body = { model: MODEL, input: historyItems(size / 2, QUESTION), store: false }
      add('direct', size, await timeReps(reps, () => context.upstream.endpoint.create(body)))
      try {
        add('peer', size, await timeReps(reps, () => context.peer.endpoint.create(body)))
      } catch (error) {
        result.skipped(`peer at ${size} items`, error)
      }
    }

    const chains: { path: string; items: number; p50: number; p99: number }[] = []
    for (const kind of ['postgres', 'pglite'] as StorageKind[]) {
      const name = kind === 'postgres' ? 'Postgres' : 'PGlite'
      try {
        const storage = await context.newStorage(kind)
        const t0 = performance.now()
        const heads = await seed(storage, sizes)
        const seedMs = performance.now() - t0
        context.log(`seeded ${name} in ${(seedMs / 1000).toFixed(1)} s`)
        result.data[`seedMs${name}`] = seedMs
        const parley = await startParley({
          name: `parley (${kind}, history)`,
          storage,
          upstream: context.upstream,
        })
        try {
          const client = context.client(parley, 'ws')
          for (const size of sizes) {
            const thread = heads.get(size) as Thread
            const head = thread.parentTurnId
            add(`Parley/${name} tRPC`, size, await timeReps(reps, () => timedTrpcTurn(client, thread)))
            add(
              `Parley/${name} /v1`,
              size,
              await timeReps(reps, () =>
                parley.v1.create({ model: MODEL, input: QUESTION, previous_response_id: head }),
              ),
            )
          }
          const last = await chain(parley.v1, chainLength)
          const t = await timeReps(reps, () =>
            parley.v1.create({ model: MODEL, input: QUESTION, previous_response_id: last }),
          )
          chains.push({ path: `Parley/${name} /v1`, items: chainLength * 2, p50: t.p50, p99: t.p99 })
          context.log(`Parley/${name} chain of ${chainLength}: p50 ${fmtMs(t.p50)} ms`)
        } finally {
          await parley.stop()
        }
      } catch (error) {
        result.skipped(`Parley on ${name}`, error)
      }
    }
    result.data['points'] = points
    result.data['chains'] = chains

    const direct = (items: number) => points.find((p) => p.path === 'direct' && p.items === items)
    const smallest = Math.min(...sizes)
    const largest = Math.max(...sizes)
    result.tables.push({
      caption: 'Time to continue a conversation (ms)',
      columns: ['path', 'items', 'p50', '× direct', `× own ${smallest}-item`, 'p99'],
      rows: points.map((p) => [
        p.path,
        p.items.toLocaleString('en-US'),
        fmtMs(p.p50),
        fmtRatio(ratio(p.p50, direct(p.items)?.p50)),
        fmtRatio(ratio(p.p50, points.find((q) => q.path === p.path && q.items === smallest)?.p50)),
        fmtMs(p.p99),
      ]),
    })
    if (chains.length > 0) {
      result.tables.push({
        caption: `Continuing a \`previous_response_id\` chain of ${chainLength} responses (ms)`,
        columns: [
          'path',
          'items in the chain',
          'p50',
          `× direct with ${largest >= chainLength * 2 ? chainLength * 2 : 'the nearest'} items`,
          'p99',
        ],
        rows: chains.map((c) => {
          const nearest = [...points.filter((p) => p.path === 'direct')].sort(
            (a, b) => Math.abs(a.items - c.items) - Math.abs(b.items - c.items),
          )[0]
          return [
            c.path,
            c.items.toLocaleString('en-US'),
            fmtMs(c.p50),
            fmtRatio(ratio(c.p50, nearest?.p50)),
            fmtMs(c.p99),
          ]
        }),
      })
    }
    const labels = [...new Set(points.map((p) => p.path))]
    result.charts.push({
      kind: 'line',
      title: 'Time to continue a conversation, by its length',
      xLabel: 'items already in the conversation (log scale)',
      yLabel: 'p50 ms',
      xLog: true,
      series: labels.map((label) => ({
        name: label,
        points: points.filter((p) => p.path === label).map((p) => [p.items, p.p50] as [number, number]),
      })),
    })
    for (const label of ['Parley/Postgres tRPC', 'Parley/Postgres /v1']) {
      const small = points.find((p) => p.path === label && p.items === smallest)
      const big = points.find((p) => p.path === label && p.items === largest)
      const growth = ratio(big?.p50, small?.p50)
      result.targets.push({
        target: `${label}: ${largest.toLocaleString('en-US')}-item continuation within 2× the ${smallest}-item one`,
        measured: growth === null ? '–' : fmtRatio(growth),
        met: growth === null ? null : growth <= 2,
        ...(growth !== null && growth > 2
          ? {
              note: `over by ${fmtRatio(growth / 2)}; direct grows ${fmtRatio(ratio(direct(largest)?.p50, direct(smallest)?.p50))} over the same range (the whole history is sent to the model either way). Why Parley grows more than 2×: the context itself is one query at every length, or none when the continued turn was used on this instance before (see the persistence benchmark), but each continuation maps and sanitizes every stored item, fits them into the model's window by their stored token counts and serializes the whole history into the upstream request: work that grows with the history in Parley's process while a direct caller pays it on its own side`,
            }
          : {}),
      })
      if (growth !== null) {
        result.headlines.push({
          label: `${label}: ${largest.toLocaleString('en-US')}-item continuation vs ${smallest}-item (direct: ${fmtRatio(ratio(direct(largest)?.p50, direct(smallest)?.p50))})`,
          value: fmtRatio(growth),
        })
      }
    }
    return result.build()
  },
}
