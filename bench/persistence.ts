/**
 * Persistence benchmark: context load time and query count by chain length on PGlite and
 * Postgres, and claim+complete throughput on Postgres. Writes bench/results/persistence.json.
 * Run from the repository root: `node --import tsx bench/persistence.ts`.
 */
import { writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { assistantText, type ItemBody, TurnSettings, userText } from '@parley/core'
import { createStores, type PersistentStores } from '@parley/persistence'
import { startPostgres } from '@parley/persistence/testing'

const CHAIN_ITEMS = [100, 1_000, 10_000]
const CONCURRENCY = 32
const THROUGHPUT_SECONDS = 8
const settings = TurnSettings.parse({})

interface Counted {
  stores: PersistentStores
  queries: () => number
}

async function open(options: { url?: string; memory?: boolean; poolSize?: number }): Promise<Counted> {
  let queries = 0
  const stores = await createStores({ ...options, onQuery: () => queries++ })
  await stores.migrate()
  return { stores, queries: () => queries }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)
  return sorted[Math.max(0, index)] ?? Number.NaN
}

const round = (value: number) => Math.round(value * 100) / 100

// A full collection before and after reading a context tells the heap it holds: what the chain
// cache keeps per item.
setFlagsFromString('--expose-gc')
const collect = runInNewContext('gc') as () => void

/** Heap bytes per item of a context, as long as it is referenced. */
async function heldBytesPerItem(read: () => Promise<unknown[]>): Promise<number> {
  collect()
  const before = process.memoryUsage().heapUsed
  const held = await read()
  collect()
  const after = process.memoryUsage().heapUsed
  return held.length === 0 ? 0 : Math.round((after - before) / held.length)
}

/** Characters of text per message: a typical chat message, and a short one to show what size costs. */
const MESSAGE_CHARS = { typical: 300, short: 40 }

/** A chain of user/assistant turns, each message about `chars` characters long. */
async function buildChain(
  stores: PersistentStores,
  userId: string,
  items: number,
  chars: number,
): Promise<string> {
  const filler = 'lorem ipsum dolor sit amet '.repeat(Math.ceil(chars / 27) + 1)
  const text = (i: number) => `Message ${i}: ${filler}`.slice(0, chars)
  const turns: { input: ItemBody[]; output: ItemBody[]; createdAt: Date; model: string }[] = []
  for (let i = 0; i < items / 2; i++) {
    turns.push({
      input: [userText(text(2 * i))],
      output: [assistantText(text(2 * i + 1))],
      createdAt: new Date(),
      model: 'bench',
    })
  }
  const result = await stores.conversations.importConversation(userId, {
    externalId: `bench:${items}:${Math.random()}`,
    title: `chain of ${items}`,
    metadata: {},
    createdAt: new Date(),
    updatedAt: new Date(),
    turns,
  })
  return result.conversation.headTurnId ?? ''
}

interface ContextFigure {
  driver: string
  messageChars: number
  items: number
  turns: number
  repetitions: number
  p50Ms: number
  p99Ms: number
  queriesPerLoad: number
  /** Heap a context of this length holds per item (what the chain cache keeps): 10,000 items only. */
  heapBytesPerItem?: number
}

interface StorageFigure {
  driver: string
  messageChars: number
  items: number
  /** The `items` table (heap and TOAST) and its indexes, per item stored. */
  tableBytesPerItem: number
  indexBytesPerItem: number
  /** Table and indexes for 10,000 such items, in MB. */
  totalMbPer10kItems: number
}

async function contextBench(
  driver: string,
  counted: Counted,
  chars: number,
): Promise<{ context: ContextFigure[]; storage: StorageFigure }> {
  const { stores } = counted
  const { user } = await stores.users.create(`bench-${driver}-${chars}`)
  const figures: ContextFigure[] = []
  const sizeBefore = await itemsSize(stores)
  for (const items of CHAIN_ITEMS) {
    const head = await buildChain(stores, user.id, items, chars)
    // Steady state: autovacuum would have set the visibility map and statistics by now.
    if (driver === 'postgres') await stores.db.execute('vacuum analyze')
    // The head's own output is not part of its context.
    const expected = items - 1
    for (let i = 0; i < 3; i++) await stores.turns.context(user.id, head)
    const repetitions = items >= 10_000 ? 30 : 100
    const times: number[] = []
    const before = counted.queries()
    for (let i = 0; i < repetitions; i++) {
      const started = performance.now()
      const context = await stores.turns.context(user.id, head)
      times.push(performance.now() - started)
      if (context.length !== expected)
        throw new Error(`context has ${context.length} items, expected ${expected}`)
    }
    const queriesPerLoad = (counted.queries() - before) / repetitions
    times.sort((a, b) => a - b)
    figures.push({
      driver,
      messageChars: chars,
      items,
      turns: items / 2,
      repetitions,
      p50Ms: round(percentile(times, 50)),
      p99Ms: round(percentile(times, 99)),
      queriesPerLoad,
      ...(items >= 10_000
        ? { heapBytesPerItem: await heldBytesPerItem(() => stores.turns.context(user.id, head)) }
        : {}),
    })
  }
  // What this run's items added to the table (the database may hold an earlier run's).
  const sizeAfter = await itemsSize(stores)
  const count = sizeAfter.count - sizeBefore.count
  const table = (sizeAfter.table - sizeBefore.table) / count
  const indexes = (sizeAfter.indexes - sizeBefore.indexes) / count
  const storage = {
    driver,
    messageChars: chars,
    items: count,
    tableBytesPerItem: Math.round(table),
    indexBytesPerItem: Math.round(indexes),
    totalMbPer10kItems: round(((table + indexes) * 10_000) / 1e6),
  }
  return { context: figures, storage }
}

/** The `items` table's bytes (heap and TOAST), its indexes' bytes, and its row count. */
async function itemsSize(
  stores: PersistentStores,
): Promise<{ table: number; indexes: number; count: number }> {
  const result: unknown = await stores.db.execute(
    `select pg_table_size('items')::float8 as table, pg_indexes_size('items')::float8 as indexes,
       (select count(*) from items)::float8 as count`,
  )
  const rows = (Array.isArray(result) ? result : ((result as { rows?: unknown[] }).rows ?? [])) as {
    table: number
    indexes: number
    count: number
  }[]
  return rows[0] ?? { table: 0, indexes: 0, count: 0 }
}

interface StartFigure {
  driver: string
  messageChars: number
  items: number
  /**
   * `kept`: the parent is a turn whose chain the store keeps in memory (here the turn that ended
   * last through it: the next turn of a conversation); `read`: a parent never used here before,
   * its chain read from the database like a context (the first continuation on this instance).
   */
  parent: 'kept' | 'read'
  repetitions: number
  p50Ms: number
  p99Ms: number
  queriesPerStart: number
}

/**
 * Starting the next turn of a long conversation: a claim with `start`, which stores the turn and
 * its input and returns its whole context in one statement. Timed: the claim; each turn is then
 * ended (untimed) so that the conversation is free for the next one.
 */
async function startBench(driver: string, counted: Counted, chars: number): Promise<StartFigure[]> {
  const { stores } = counted
  const { user } = await stores.users.create(`bench-start-${driver}`)
  const figures: StartFigure[] = []
  for (const items of CHAIN_ITEMS) {
    const head = await buildChain(stores, user.id, items, chars)
    const conversationId = (await stores.turns.conversationOf(user.id, head)) ?? ''
    if (driver === 'postgres') await stores.db.execute('vacuum analyze')
    const repetitions = items >= 10_000 ? 30 : 100
    // `read` claims under a different turn each time (walking up from the head), so that no
    // claim finds its parent's chain kept: each reads its context from the database.
    const unread: string[] = []
    for (let id: string | null = head; id && unread.length < repetitions + 3; ) {
      unread.push(id)
      id = (await stores.turns.get(user.id, id))?.turn.parentTurnId ?? null
    }
    for (const parent of ['read', 'kept'] as const) {
      const times: number[] = []
      let queries = 0
      for (let i = -3; i < repetitions; i++) {
        const before = counted.queries()
        const started = performance.now()
        const claim = await stores.turns.claim({
          userId: user.id,
          conversationId,
          requestId: `bench-start-${driver}-${items}-${parent}-${i}-${Math.random()}`,
          fingerprint: 'bench',
          parentTurnId: parent === 'read' ? (unread[i + 3] ?? head) : null,
          parentFromHead: parent === 'kept',
          input: [userText('And then?')],
          inputTokenCounts: [4],
          provider: 'scripted',
          model: 'bench',
          instructions: null,
          settings,
          leaseMs: 30_000,
          setHead: parent === 'kept',
          start: true,
        })
        const elapsed = performance.now() - started
        if (claim.status !== 'claimed') throw new Error(`claim answered ${claim.status}`)
        if ((claim.context?.length ?? 0) < items - 2 * (repetitions + 3)) {
          throw new Error(`context has ${claim.context?.length} items`)
        }
        // Warm-up rounds (i < 0) also make the first `kept` parent.
        if (i >= 0) {
          times.push(elapsed)
          queries += counted.queries() - before
        }
        await stores.turns.finish(claim.turn.id, {
          status: 'completed',
          output: [assistantText('Then this.')],
          outputTokenCounts: [3],
          usage: null,
          ledger: [],
          error: null,
          upstreamResponseId: null,
          truncated: false,
        })
      }
      times.sort((a, b) => a - b)
      figures.push({
        driver,
        messageChars: chars,
        items,
        parent,
        repetitions,
        p50Ms: round(percentile(times, 50)),
        p99Ms: round(percentile(times, 99)),
        queriesPerStart: queries / repetitions,
      })
    }
  }
  return figures
}

interface ThroughputFigure {
  driver: string
  concurrency: number
  seconds: number
  turns: number
  turnsPerSecond: number
  p50Ms: number
  p99Ms: number
  queriesPerTurn: number
}

/** Each worker owns a conversation (one writer per conversation) and chains turns on it. */
async function throughputBench(counted: Counted): Promise<ThroughputFigure> {
  const { stores } = counted
  const { user } = await stores.users.create('bench-throughput')
  const conversations = await Promise.all(
    Array.from({ length: CONCURRENCY }, () => stores.conversations.create(user.id, {})),
  )
  const latencies: number[] = []
  const before = counted.queries()
  const started = performance.now()
  const deadline = started + THROUGHPUT_SECONDS * 1000
  let sequence = 0
  await Promise.all(
    conversations.map(async (conversation) => {
      let parent: string | null = null
      while (performance.now() < deadline) {
        const t0 = performance.now()
        const requestId = `bench-${sequence++}`
        const claim = await stores.turns.claim({
          userId: user.id,
          conversationId: conversation.id,
          requestId,
          fingerprint: requestId,
          parentTurnId: parent,
          input: [userText('What time is it?')],
          inputTokenCounts: [5],
          provider: 'scripted',
          model: 'bench',
          instructions: null,
          settings,
          leaseMs: 30_000,
          setHead: true,
        })
        if (claim.status !== 'claimed') throw new Error(`claim answered ${claim.status}`)
        await stores.turns.finish(claim.turn.id, {
          status: 'completed',
          output: [assistantText('It is bench time.')],
          outputTokenCounts: [5],
          usage: {
            inputTokens: 5,
            outputTokens: 5,
            totalTokens: 10,
            cachedInputTokens: 0,
            reasoningTokens: 0,
            estimated: false,
          },
          ledger: [
            {
              provider: 'scripted',
              model: 'bench',
              upstreamResponseId: `${claim.turn.id}:1`,
              usage: {
                inputTokens: 5,
                outputTokens: 5,
                totalTokens: 10,
                cachedInputTokens: 0,
                reasoningTokens: 0,
                estimated: false,
              },
            },
          ],
          error: null,
          upstreamResponseId: null,
          truncated: false,
        })
        parent = claim.turn.id
        latencies.push(performance.now() - t0)
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  return {
    driver: 'postgres',
    concurrency: CONCURRENCY,
    seconds: round(seconds),
    turns: latencies.length,
    turnsPerSecond: round(latencies.length / seconds),
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
    queriesPerTurn: round((counted.queries() - before) / latencies.length),
  }
}

async function main() {
  const loadBefore = loadavg()
  const context: ContextFigure[] = []
  const storage: StorageFigure[] = []
  const start: StartFigure[] = []
  const record = (run: { context: ContextFigure[]; storage: StorageFigure }) => {
    context.push(...run.context)
    storage.push(run.storage)
  }
  const pglite = await open({ memory: true })
  try {
    record(await contextBench('pglite', pglite, MESSAGE_CHARS.typical))
    start.push(...(await startBench('pglite', pglite, MESSAGE_CHARS.typical)))
  } finally {
    await pglite.stores.close()
  }

  const server = await startPostgres()
  let throughput: ThroughputFigure
  try {
    const postgres = await open({ url: server.url, poolSize: CONCURRENCY })
    try {
      record(await contextBench('postgres', postgres, MESSAGE_CHARS.typical))
      record(await contextBench('postgres', postgres, MESSAGE_CHARS.short))
      start.push(...(await startBench('postgres', postgres, MESSAGE_CHARS.typical)))
      throughput = await throughputBench(postgres)
    } finally {
      await postgres.stores.close()
    }
  } finally {
    await server.stop()
  }

  const largest = context.find(
    (figure) =>
      figure.driver === 'postgres' &&
      figure.items === 10_000 &&
      figure.messageChars === MESSAGE_CHARS.typical,
  )
  const queryCounts = new Set(context.map((figure) => figure.queriesPerLoad))
  const keptLargest = start.find(
    (figure) => figure.driver === 'postgres' && figure.items === 10_000 && figure.parent === 'kept',
  )
  const result = {
    generatedAt: new Date().toISOString(),
    // The machine is shared: the load average says how much of it the benchmark had.
    machine: {
      cpus: cpus().length,
      node: process.version,
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadavg(),
    },
    context,
    storage,
    nextTurnStart: start,
    claimComplete: throughput,
    targets: {
      postgres10kContextP50Under25Ms: (largest?.p50Ms ?? Number.POSITIVE_INFINITY) < 25,
      postgres10kKeptChainStartP50Under25Ms: (keptLargest?.p50Ms ?? Number.POSITIVE_INFINITY) < 25,
      queryCountIndependentOfLength:
        queryCounts.size === 1 && new Set(start.map((figure) => figure.queriesPerStart)).size === 1,
    },
  }
  const out = fileURLToPath(new URL('./results/persistence.json', import.meta.url))
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`)

  console.log('Context load (TurnStore.context)')
  console.table(
    context.map((f) => ({
      driver: f.driver,
      'chars/msg': f.messageChars,
      items: f.items,
      turns: f.turns,
      'p50 ms': f.p50Ms,
      'p99 ms': f.p99Ms,
      'queries/load': f.queriesPerLoad,
      'heap B/item': f.heapBytesPerItem ?? '',
    })),
  )
  console.log('Items table (table and indexes, per item stored)')
  console.table(
    storage.map((f) => ({
      driver: f.driver,
      'chars/msg': f.messageChars,
      items: f.items,
      'table B/item': f.tableBytesPerItem,
      'index B/item': f.indexBytesPerItem,
      'MB per 10k items': f.totalMbPer10kItems,
    })),
  )
  console.log('Start of the next turn (claim with start: the turn, its input and its context)')
  console.table(
    start.map((f) => ({
      driver: f.driver,
      items: f.items,
      parent: f.parent,
      'p50 ms': f.p50Ms,
      'p99 ms': f.p99Ms,
      'queries/start': f.queriesPerStart,
    })),
  )
  console.log(`Claim + complete on postgres, concurrency ${throughput.concurrency}`)
  console.table([
    {
      turns: throughput.turns,
      seconds: throughput.seconds,
      'turns/s': throughput.turnsPerSecond,
      'p50 ms': throughput.p50Ms,
      'p99 ms': throughput.p99Ms,
      'queries/turn': throughput.queriesPerTurn,
    },
  ])
  console.log('Targets', result.targets)
  console.log(`Wrote ${out}`)
}

await main()
