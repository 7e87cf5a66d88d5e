/**
 * What Parley adds on top of the model call, measured against the fake OpenAI upstream in the
 * same run (`pnpm bench:server`):
 *
 * - added latency of a non-streamed turn: tRPC `chat.send` + waiting for its terminal event
 *   (over WebSocket) minus a direct `openai-chat` call to the same upstream through the same
 *   adapter (the openai SDK), p50/p99 at concurrency 1 and 64;
 * - added time to first token: tRPC `chat.stream` over WebSocket and over SSE (and `/v1/responses`
 *   with `stream: true` when it exists) minus the direct call's time to first token;
 *
 * on Postgres (a throwaway cluster, or DATABASE_URL) and on PGlite (on disk). Results go to
 * bench/results/server-latency.json.
 */
import { randomUUID } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createParleyServer } from '../apps/server/src/index.ts'
import { createParleyClient, type ParleyClient } from '../packages/client/src/node.ts'
import { userText } from '../packages/core/src/index.ts'
import { startPostgres } from '../packages/persistence/src/testing/index.ts'
import { startFakeUpstream } from '../packages/providers/src/fake-upstream/index.ts'
import { createProvider } from '../packages/providers/src/index.ts'

const QUICK = process.argv.includes('--quick')
const ROUNDS_C1 = QUICK ? 40 : 200
const ROUNDS_C64 = QUICK ? 2 : 5
const WARMUP = QUICK ? 10 : 30
const TOKENS = 20
// `--db postgres` or `--db pglite` measures one database only (for profiling).
const dbFlag = process.argv.indexOf('--db')
const DATABASES = (['postgres', 'pglite'] as const).filter(
  (db) => dbFlag < 0 || process.argv[dbFlag + 1] === db,
)

/** A conversation and the completed turn that measured turns branch from. */
interface Target {
  conversationId: string
  parentTurnId: string
}

interface Summary {
  n: number
  p50: number
  p99: number
  mean: number
}

function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0
  const round = (value: number) => Math.round(value * 1000) / 1000
  return {
    n: sorted.length,
    p50: round(at(0.5)),
    p99: round(at(0.99)),
    mean: round(sorted.reduce((sum, value) => sum + value, 0) / Math.max(1, sorted.length)),
  }
}

function added(parley: Summary, direct: Summary) {
  return {
    p50: Math.round((parley.p50 - direct.p50) * 1000) / 1000,
    p99: Math.round((parley.p99 - direct.p99) * 1000) / 1000,
  }
}

/** Runs `task` `rounds × concurrency` times with `concurrency` in flight; returns durations in ms. */
async function measure(
  concurrency: number,
  rounds: number,
  task: (slot: number) => Promise<number>,
): Promise<number[]> {
  const samples: number[] = []
  await Promise.all(
    Array.from({ length: concurrency }, async (_, slot) => {
      for (let i = 0; i < rounds; i++) samples.push(await task(slot))
    }),
  )
  return samples
}

async function direct(upstreamUrl: string) {
  const provider = createProvider({
    kind: 'openai-chat',
    baseURL: upstreamUrl,
    apiKey: 'bench',
    model: 'gpt-bench',
  })
  const call = async (): Promise<{ total: number; ttft: number }> => {
    const started = performance.now()
    let ttft = -1
    for await (const event of provider.stream({
      model: 'gpt-bench',
      instructions: null,
      input: [userText('hello')],
      tools: [],
      toolChoice: 'auto',
      parallelToolCalls: true,
      temperature: null,
      topP: null,
      maxOutputTokens: null,
      signal: new AbortController().signal,
    })) {
      if (ttft < 0 && event.type === 'text.delta') ttft = performance.now() - started
    }
    return { total: performance.now() - started, ttft }
  }
  return call
}

function untilTerminal(
  subscribe: (handlers: {
    onData: (v: { data: { type: string } }) => void
    onError: (e: unknown) => void
  }) => {
    unsubscribe(): void
  },
  onFirstToken?: () => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let first = true
    const sub = subscribe({
      onData: ({ data }) => {
        if (first && data.type === 'text.delta') {
          first = false
          onFirstToken?.()
        }
        if (['turn.completed', 'turn.failed', 'turn.cancelled', 'turn.interrupted'].includes(data.type)) {
          sub.unsubscribe()
          if (data.type === 'turn.completed') resolve()
          else reject(new Error(`turn ended ${data.type}`))
        }
      },
      onError: (error) => {
        sub.unsubscribe()
        reject(error)
      },
    })
  })
}

async function benchDatabase(label: 'postgres' | 'pglite', upstreamUrl: string) {
  const pg = label === 'postgres' ? await startPostgres() : null
  const dataDir = label === 'pglite' ? mkdtempSync(join(tmpdir(), 'parley-bench-')) : null
  const server = await createParleyServer({
    ...(pg ? { databaseUrl: pg.url } : { dataDir: dataDir ?? '' }),
    provider: 'openai-chat',
    openaiBaseUrl: upstreamUrl,
    openaiApiKey: 'bench',
    model: 'gpt-bench',
    auth: 'keys',
    logLevel: 'warn',
    webRoot: null,
  })
  const { apiKey } = await server.stores.users.create('bench')
  const ws = createParleyClient({ url: server.url, apiKey, transport: 'ws' })
  const sse = createParleyClient({ url: server.url, apiKey, transport: 'sse' })
  const directCall = await direct(upstreamUrl)
  const v1Exists =
    (
      await fetch(`${server.url}/v1/responses`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}` },
      })
    ).status !== 404

  /**
   * Conversations with one completed turn each. Every measured turn branches from that turn, so
   * that each one carries the same small context (one earlier exchange) instead of a history
   * that grows with the rounds, as the direct call does.
   */
  const conversation = async (client: ParleyClient): Promise<Target> => {
    const [target] = await conversations(client, 1)
    if (!target) throw new Error('no conversation was made')
    return target
  }
  const conversations = async (client: ParleyClient, count: number): Promise<Target[]> =>
    Promise.all(
      Array.from({ length: count }, async () => {
        const { id } = await client.conversations.create.mutate({})
        const sent = await client.chat.send.mutate({
          requestId: randomUUID(),
          conversationId: id,
          input: 'hello',
        })
        await untilTerminal((h) => client.chat.watch.subscribe({ turnId: sent.turn.id }, h))
        return { conversationId: id, parentTurnId: sent.turn.id }
      }),
    )

  const sendAndWait = (client: ParleyClient, target: Target) => async () => {
    const started = performance.now()
    const sent = await client.chat.send.mutate({ requestId: randomUUID(), ...target, input: 'hello' })
    await untilTerminal((h) => client.chat.watch.subscribe({ turnId: sent.turn.id }, h))
    return performance.now() - started
  }
  const streamFirstToken = (client: ParleyClient, target: Target) => async () => {
    const started = performance.now()
    let ttft = 0
    await untilTerminal(
      (h) => client.chat.stream.subscribe({ requestId: randomUUID(), ...target, input: 'hello' }, h),
      () => {
        ttft = performance.now() - started
      },
    )
    return ttft
  }
  const v1FirstToken = async () => {
    const started = performance.now()
    const response = await fetch(`${server.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-bench', input: 'hello', stream: true }),
    })
    const reader = response.body?.getReader()
    const decoder = new TextDecoder()
    let ttft = 0
    let buffer = ''
    for (;;) {
      const chunk = await reader?.read()
      if (!chunk || chunk.done) break
      buffer += decoder.decode(chunk.value, { stream: true })
      if (!ttft && buffer.includes('response.output_text.delta')) ttft = performance.now() - started
    }
    return ttft
  }

  // Warm up every path (JIT, connection pools, the WebSocket, prepared statements).
  const warm = await conversation(ws)
  for (let i = 0; i < WARMUP; i++) {
    await directCall()
    await sendAndWait(ws, warm)()
    await streamFirstToken(ws, warm)()
    await streamFirstToken(sse, warm)()
    if (v1Exists) await v1FirstToken()
  }

  const result: Record<string, unknown> = {}
  // The floor of the transport alone: one authenticated query that touches no table.
  result['trpc_http_health_check_ms'] = summarize(
    await measure(1, ROUNDS_C1, async () => {
      const started = performance.now()
      await ws.health.check.query()
      return performance.now() - started
    }),
  )
  for (const concurrency of [1, 64]) {
    const rounds = concurrency === 1 ? ROUNDS_C1 : ROUNDS_C64
    const ids = await conversations(ws, concurrency)
    const directSamples = await measure(concurrency, rounds, async () => (await directCall()).total)
    const parleySamples = await measure(concurrency, rounds, (slot) => {
      const target = ids[slot]
      if (!target) throw new Error(`no conversation for slot ${slot}`)
      return sendAndWait(ws, target)()
    })
    const d = summarize(directSamples)
    const p = summarize(parleySamples)
    result[`turn_c${concurrency}`] = { direct_ms: d, parley_send_and_wait_ms: p, added_ms: added(p, d) }
  }

  const one = await conversation(ws)
  const directTtft = summarize(await measure(1, ROUNDS_C1, async () => (await directCall()).ttft))
  const wsTtft = summarize(await measure(1, ROUNDS_C1, streamFirstToken(ws, one)))
  const sseTtft = summarize(await measure(1, ROUNDS_C1, streamFirstToken(sse, one)))
  const ttft: Record<string, unknown> = {
    direct_ms: directTtft,
    trpc_ws_ms: wsTtft,
    trpc_sse_ms: sseTtft,
    added_ws_ms: added(wsTtft, directTtft),
    added_sse_ms: added(sseTtft, directTtft),
  }
  if (v1Exists) {
    const v1 = summarize(await measure(1, ROUNDS_C1, v1FirstToken))
    ttft['v1_responses_sse_ms'] = v1
    ttft['added_v1_ms'] = added(v1, directTtft)
  }
  result['time_to_first_token_c1'] = ttft

  ws.close()
  sse.close()
  await server.close()
  await pg?.stop()
  if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  return result
}

async function main() {
  const upstream = await startFakeUpstream({ tokens: TOKENS, delayMs: 0, keepCalls: 10 })
  const results: Record<string, unknown> = {}
  try {
    for (const database of DATABASES) {
      process.stderr.write(`server-latency: ${database}…\n`)
      results[database] = await benchDatabase(database, upstream.url)
    }
  } finally {
    await upstream.stop()
  }
  const report = {
    benchmark: 'server-latency',
    at: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    // Other work on the machine skews every figure: the load average says how busy it was.
    loadAverage: loadavg(),
    setup: {
      upstream: `fake OpenAI upstream, ${TOKENS} deltas per reply, no delay`,
      rounds: { concurrency1: ROUNDS_C1, concurrency64: `${ROUNDS_C64} per slot` },
      auth: 'keys (Bearer API key)',
      note: 'added = parley − direct at the same percentile; direct = the openai-chat adapter called in-process',
    },
    results,
  }
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
  const out = new URL('./results/server-latency.json', import.meta.url)
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`)
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`)
}

await main()
