/**
 * Soak: mixed traffic against a real server process on the fake upstream, for a bounded time,
 * watching the server's memory and open descriptors. Loopback only.
 *
 *   pnpm soak [--seconds N] [--concurrency N]
 *
 * Prints progress every 30 s and a JSON summary at the end; exits 1 when a turn's assembled
 * text differs from the stored one or memory keeps growing (RSS slope after warm-up of 5 MB/min
 * or more).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createParleyClient, isParleyClientError, type ParleyClient } from '@parley/client'
import type { TurnEvent } from '@parley/core'
import { startFakeUpstream } from '@parley/providers/fake-upstream'
import { streamSegment } from './stream-segment.ts'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '6' },
  },
})
const seconds = Number(values.seconds)
const concurrency = Number(values.concurrency)
if (!(seconds > 0) || !(concurrency > 0)) {
  process.stderr.write('usage: soak [--seconds N] [--concurrency N]\n')
  process.exit(2)
}

const SERVER_DIR = new URL('..', import.meta.url).pathname

interface Sample {
  at: number
  rssMb: number
  fds: number
  sockets: number
}

/** RSS and descriptors of a process, from /proc (Linux). */
function sample(pid: number, started: number): Sample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  const fdDir = `/proc/${pid}/fd`
  let sockets = 0
  const fds = readdirSync(fdDir)
  for (const fd of fds) {
    try {
      if (readlinkSync(join(fdDir, fd)).startsWith('socket:')) sockets += 1
    } catch {
      // A descriptor closed between the listing and the read.
    }
  }
  return { at: (Date.now() - started) / 1000, rssMb: rssKb / 1024, fds: fds.length, sockets }
}

const round = (value: number) => Number(value.toFixed(1))

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length
  if (n < 2) return 0
  const mx = points.reduce((sum, [x]) => sum + x, 0) / n
  const my = points.reduce((sum, [, y]) => sum + y, 0) / n
  let num = 0
  let den = 0
  for (const [x, y] of points) {
    num += (x - mx) * (y - my)
    den += (x - mx) ** 2
  }
  return den === 0 ? 0 : num / den
}

async function startServer(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(PORT|HOST|DATABASE_URL|PARLEY_|OPENAI_)/.test(key)),
  )
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: SERVER_DIR,
    env: { ...base, INIT_CWD: SERVER_DIR, PORT: '0', HOST: '127.0.0.1', PARLEY_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const url = await new Promise<string>((resolve, reject) => {
    let output = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const found = /Parley is running on (\S+)/.exec(output)
      if (found?.[1]) resolve(found[1])
    })
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)))
  })
  return { url, child }
}

const counts = {
  turns: 0,
  sends: 0,
  streams: 0,
  reconnects: 0,
  v1: 0,
  v1Streams: 0,
  cancels: 0,
  mismatches: 0,
  errors: {} as Record<string, number>,
}

function countError(error: unknown): void {
  const reason = isParleyClientError(error) ? error.reason : error instanceof Error ? error.name : 'unknown'
  counts.errors[reason] = (counts.errors[reason] ?? 0) + 1
}

function textOf(output: ReadonlyArray<unknown>): string {
  let text = ''
  for (const item of output) {
    if (typeof item !== 'object' || item === null || !('content' in item) || !Array.isArray(item.content))
      continue
    for (const part of item.content) {
      if (typeof part === 'object' && part !== null && 'text' in part && typeof part.text === 'string') {
        text += part.text
      }
    }
  }
  return text
}

/** Follows a turn until its end, dropping the subscription after `dropAfter` events and resuming. */
async function streamWithDisconnects(
  client: ParleyClient,
  input: { requestId: string; conversationId: string; input: string },
  dropAfter: number[],
): Promise<{ events: TurnEvent[] }> {
  const events: TurnEvent[] = []
  for (let segment = 0; ; segment++) {
    const ended = await streamSegment(client, input, events, dropAfter[segment] ?? Number.POSITIVE_INFINITY)
    if (ended) return { events }
    counts.reconnects += 1
  }
}

async function worker(url: string, deadline: number, index: number): Promise<void> {
  const client = createParleyClient({ url, transport: index % 2 === 0 ? 'ws' : 'sse' })
  let conversationId = ''
  let turnsHere = 0
  try {
    while (Date.now() < deadline) {
      if (turnsHere % 20 === 0) {
        conversationId = (await client.conversations.create.mutate({ title: `soak ${index}` })).id
      }
      turnsHere += 1
      const action = Math.random()
      try {
        if (action < 0.3) {
          counts.sends += 1
          const started = await client.chat.send.mutate({
            requestId: randomUUID(),
            conversationId,
            input: 'hello',
          })
          await streamWithDisconnects(
            client,
            { requestId: started.turn.requestId, conversationId, input: 'hello' },
            [],
          )
        } else if (action < 0.6) {
          counts.streams += 1
          const points = [1 + Math.floor(Math.random() * 10), 12 + Math.floor(Math.random() * 10)]
          const { events } = await streamWithDisconnects(
            client,
            { requestId: randomUUID(), conversationId, input: 'stream please' },
            points,
          )
          const turnId = events[0]?.turnId ?? ''
          const stored = await client.chat.turn.query({ turnId })
          const assembled = events.map((event) => (event.type === 'text.delta' ? event.delta : '')).join('')
          if (assembled !== textOf(stored.output)) counts.mismatches += 1
        } else if (action < 0.85) {
          const stream = Math.random() < 0.5
          if (stream) counts.v1Streams += 1
          else counts.v1 += 1
          const response = await fetch(`${url}/v1/responses`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
            body: JSON.stringify({ input: 'v1 hello', stream }),
          })
          if (!response.ok) countError(new Error(`v1_${response.status}`))
          if (stream && Math.random() < 0.5) {
            // Leave mid-stream: the turn runs on and is stored.
            const reader = response.body?.getReader()
            await reader?.read()
            await reader?.cancel()
          } else {
            await response.text()
          }
        } else {
          counts.cancels += 1
          const started = await client.chat.send.mutate({
            requestId: randomUUID(),
            conversationId,
            input: 'cancel me',
          })
          await client.chat.cancel.mutate({ turnId: started.turn.id }).catch((error: unknown) => {
            // The turn may have finished first.
            if (!isParleyClientError(error) || error.status !== 409) countError(error)
          })
          await streamWithDisconnects(
            client,
            { requestId: started.turn.requestId, conversationId, input: 'cancel me' },
            [],
          )
        }
        counts.turns += 1
      } catch (error) {
        countError(error)
        // A busy conversation (a v1 turn still running on a shared default) gets a fresh one.
        turnsHere = 0
      }
    }
  } finally {
    client.close()
  }
}

const upstream = await startFakeUpstream({ tokens: 30, delayMs: 2 })
const dataDir = mkdtempSync(join(tmpdir(), 'parley-soak-'))
const { url, child } = await startServer({
  PARLEY_DATA_DIR: dataDir,
  PARLEY_PROVIDER: 'openai-chat',
  OPENAI_BASE_URL: upstream.url,
  OPENAI_API_KEY: 'sk-soak',
  PARLEY_RATE_LIMIT_PER_MIN: '1000000',
  PARLEY_MAX_STREAMS_PER_USER: '1000',
})
const pid = child.pid ?? 0
const started = Date.now()
const samples: Sample[] = [sample(pid, started)]
const timer = setInterval(() => samples.push(sample(pid, started)), 2_000)
const progress = setInterval(() => {
  const last = samples.at(-1)
  process.stdout.write(
    `[${Math.round((Date.now() - started) / 1000)}s] turns ${counts.turns} errors ${JSON.stringify(counts.errors)} rss ${last?.rssMb.toFixed(1)} MB fds ${last?.fds}\n`,
  )
}, 30_000)
process.stdout.write(`soak: ${seconds}s, ${concurrency} workers, server ${url} (pid ${pid})\n`)

const deadline = started + seconds * 1000
await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(url, deadline, i)))
// Let finished turns flush and idle sockets close before the last sample.
await new Promise((resolve) => setTimeout(resolve, 3_000))
clearInterval(timer)
clearInterval(progress)
samples.push(sample(pid, started))

const first = samples[0] as Sample
const last = samples.at(-1) as Sample
// Warm-up (start-up garbage, JIT, caches, pools) is excluded: the rest says whether it grows.
const steady = samples.filter((s) => s.at >= Math.min(30, last.at / 5))
const sorted = steady.map((s) => s.rssMb).sort((a, b) => a - b)
const median = sorted[Math.floor(sorted.length / 2)] ?? 0
const slopeMbPerMin = slope(steady.map((s) => [s.at / 60, s.rssMb]))
const summary = {
  seconds,
  concurrency,
  ...counts,
  turnsPerSecond: Number((counts.turns / seconds).toFixed(1)),
  rssMb: {
    start: round(first.rssMb),
    end: round(last.rssMb),
    steadyMin: round(sorted[0] ?? 0),
    steadyMedian: round(median),
    steadyMax: round(sorted.at(-1) ?? 0),
  },
  rssSlopeMbPerMinAfterWarmup: round(slopeMbPerMin),
  samples: samples.length,
  fds: { start: first.fds, end: last.fds },
  sockets: { start: first.sockets, end: last.sockets },
  upstreamCalls: upstream.callCount(),
}
process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`)

child.kill('SIGTERM')
await new Promise((resolve) => child.once('exit', resolve))
await upstream.stop()
rmSync(dataDir, { recursive: true, force: true })
// RSS swings by tens of MB with each collection of the JS and WASM heaps; a leak shows as a
// steady climb, so the bar is a slope that would add less than 5 MB a minute.
const flat = slopeMbPerMin < 5
process.exit(counts.mismatches === 0 && flat ? 0 : 1)
