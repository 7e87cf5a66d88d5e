/**
 * Soak: mixed traffic against a real server process on the fake upstream, for a bounded time,
 * watching the server's memory and open descriptors. Loopback only.
 *
 *   pnpm soak [--seconds N] [--concurrency N] [--snapshots DIR]
 *
 * Prints progress every 30 s and a JSON summary at the end; exits 1 when a turn's assembled
 * text differs from the stored one or the server's live JS heap keeps growing (slope of the heap
 * used after a full collection, after warm-up, of 1 MB/min or more, and a rise of 2 MB or more
 * between the first and the last third of the steady samples). RSS is reported beside it
 * but not judged: it also holds PGlite's WebAssembly memory, the allocator's arenas and the pages
 * the collector keeps, none of which shrink when load drops, and it jumps while a heap snapshot
 * is written, so a slope over a few minutes of it says little about a leak.
 *
 * With `--snapshots DIR` it writes a heap snapshot of the server after warm-up and at the end
 * and prints the constructors whose live object count grew most between them.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { createParleyClient, isParleyClientError, type ParleyClient } from '@parley/client'
import type { TurnEvent } from '@parley/core'
import { startFakeUpstream } from '@parley/providers/fake-upstream'
import type { ProbeReply, ProbeRequest } from './soak-probe.ts'
import { streamSegment } from './stream-segment.ts'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '6' },
    snapshots: { type: 'string' },
  },
})
const seconds = Number(values.seconds)
const concurrency = Number(values.concurrency)
if (!(seconds > 0) || !(concurrency > 0)) {
  process.stderr.write('usage: soak [--seconds N] [--concurrency N] [--snapshots DIR]\n')
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

interface HeapSample {
  at: number
  heapMb: number
  heapTotalMb: number
  externalMb: number
  rssMb: number
}

const MB = 1024 * 1024

/** Asks the server's probe (soak-probe.ts) over the IPC channel. */
function createProbe(child: ChildProcess) {
  let nextId = 0
  const waiting = new Map<number, (reply: ProbeReply) => void>()
  child.on('message', (reply: ProbeReply) => {
    waiting.get(reply.id)?.(reply)
    waiting.delete(reply.id)
  })
  const ask = (request: ProbeRequest) =>
    new Promise<ProbeReply>((resolve) => {
      waiting.set(request.id, resolve)
      child.send(request)
    })
  return {
    async memory(started: number): Promise<HeapSample> {
      const reply = await ask({ id: nextId++, kind: 'memory' })
      if (!('memory' in reply)) throw new Error('probe answered a memory request with a snapshot')
      const { heapUsed, heapTotal, external, rss } = reply.memory
      return {
        at: (Date.now() - started) / 1000,
        heapMb: heapUsed / MB,
        heapTotalMb: heapTotal / MB,
        externalMb: external / MB,
        rssMb: rss / MB,
      }
    },
    async snapshot(path: string): Promise<string> {
      const reply = await ask({ id: nextId++, kind: 'snapshot', path })
      if (!('path' in reply)) throw new Error('probe answered a snapshot request with memory')
      return reply.path
    },
  }
}

/** Live objects per constructor (or closure/string kind) in a V8 heap snapshot. */
function countObjects(path: string): Map<string, { count: number; bytes: number }> {
  const snapshot = JSON.parse(readFileSync(path, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } }
    nodes: number[]
    strings: string[]
  }
  const fields = snapshot.snapshot.meta.node_fields
  const types = snapshot.snapshot.meta.node_types[0]
  const typeAt = fields.indexOf('type')
  const nameAt = fields.indexOf('name')
  const sizeAt = fields.indexOf('self_size')
  const counts = new Map<string, { count: number; bytes: number }>()
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    const type = types[snapshot.nodes[i + typeAt] as number] ?? '?'
    const key =
      type === 'object' || type === 'closure'
        ? `${type === 'closure' ? 'closure ' : ''}${snapshot.strings[snapshot.nodes[i + nameAt] as number]}`
        : `(${type})`
    const entry = counts.get(key) ?? { count: 0, bytes: 0 }
    entry.count += 1
    entry.bytes += snapshot.nodes[i + sizeAt] as number
    counts.set(key, entry)
  }
  return counts
}

/** The constructors whose live count grew most between two snapshots. */
function diffSnapshots(before: string, after: string, top = 25) {
  const a = countObjects(before)
  const b = countObjects(after)
  return [...b]
    .map(([name, { count, bytes }]) => ({
      name,
      before: a.get(name)?.count ?? 0,
      after: count,
      grew: count - (a.get(name)?.count ?? 0),
      grewKb: round((bytes - (a.get(name)?.bytes ?? 0)) / 1024),
    }))
    .filter((row) => row.grew > 0)
    .sort((x, y) => y.grew - x.grew)
    .slice(0, top)
}

async function startServer(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(PORT|HOST|DATABASE_URL|PARLEY_|OPENAI_)/.test(key)),
  )
  // --expose-gc and the probe only here: the probe collects before it measures.
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', '--import', './src/soak-probe.ts', 'src/main.ts'],
    {
      cwd: SERVER_DIR,
      env: { ...base, INIT_CWD: SERVER_DIR, PORT: '0', HOST: '127.0.0.1', PARLEY_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    },
  )
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
const probe = createProbe(child)
const started = Date.now()
const samples: Sample[] = [sample(pid, started)]
const heapSamples: HeapSample[] = [await probe.memory(started)]
// Warm-up (start-up garbage, JIT, caches, pools, PGlite growing its memory) is excluded: the rest
// says whether it grows.
const warmupSeconds = Math.min(60, seconds / 5)
const timer = setInterval(() => samples.push(sample(pid, started)), 2_000)
// A full collection every 10 s: often enough for a slope, rare enough not to slow the traffic.
let heapSampling: Promise<unknown> = Promise.resolve()
const heapTimer = setInterval(() => {
  heapSampling = probe.memory(started).then((s) => heapSamples.push(s))
}, 10_000)
const progress = setInterval(() => {
  const last = samples.at(-1)
  const heap = heapSamples.at(-1)
  process.stdout.write(
    `[${Math.round((Date.now() - started) / 1000)}s] turns ${counts.turns} errors ${JSON.stringify(counts.errors)} heap ${heap?.heapMb.toFixed(1)} MB rss ${last?.rssMb.toFixed(1)} MB fds ${last?.fds}\n`,
  )
}, 30_000)
process.stdout.write(`soak: ${seconds}s, ${concurrency} workers, server ${url} (pid ${pid})\n`)

// The server runs in its package folder: a relative DIR means the caller's.
const snapshotDir = values.snapshots ? resolve(values.snapshots) : undefined
if (snapshotDir) mkdirSync(snapshotDir, { recursive: true })
const snapshots: string[] = []
const warmupSnapshot = snapshotDir
  ? new Promise<void>((resolve) =>
      setTimeout(() => {
        probe.snapshot(join(snapshotDir, 'soak-after-warmup.heapsnapshot')).then((path) => {
          snapshots.push(path)
          resolve()
        })
      }, warmupSeconds * 1000),
    )
  : Promise.resolve()

const deadline = started + seconds * 1000
await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(url, deadline, i)))
clearInterval(heapTimer)
await heapSampling
const lastUnderLoad = heapSamples.at(-1) as HeapSample
// Let finished turns flush and idle sockets close before the last sample.
await new Promise((resolve) => setTimeout(resolve, 3_000))
clearInterval(timer)
clearInterval(progress)
samples.push(sample(pid, started))
const idleEnd = await probe.memory(started)
await warmupSnapshot
if (snapshotDir) snapshots.push(await probe.snapshot(join(snapshotDir, 'soak-end.heapsnapshot')))

const first = samples[0] as Sample
const last = samples.at(-1) as Sample
const steady = samples.filter((s) => s.at >= warmupSeconds)
const medianOf = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0
const steadyRss = steady.map((s) => s.rssMb)
const rssSlope = slope(steady.map((s) => [s.at / 60, s.rssMb]))
// Under load only: the idle sample at the end holds no turns in flight and would pull it down.
const steadyHeap = heapSamples.filter((s) => s.at >= warmupSeconds)
const heapSlope = slope(steadyHeap.map((s) => [s.at / 60, s.heapMb]))
const third = Math.max(1, Math.floor(steadyHeap.length / 3))
/** Median of the last third of the steady samples minus that of the first third. */
const heapRiseMb =
  medianOf(steadyHeap.slice(-third).map((s) => s.heapMb)) -
  medianOf(steadyHeap.slice(0, third).map((s) => s.heapMb))
const firstHeap = heapSamples[0] as HeapSample
const warmHeap = steadyHeap[0] ?? lastUnderLoad
const summary = {
  seconds,
  concurrency,
  ...counts,
  turnsPerSecond: Number((counts.turns / seconds).toFixed(1)),
  heapAfterGcMb: {
    start: round(firstHeap.heapMb),
    afterWarmup: round(warmHeap.heapMb),
    endUnderLoad: round(lastUnderLoad.heapMb),
    endIdle: round(idleEnd.heapMb),
    steadyMin: round(Math.min(...steadyHeap.map((s) => s.heapMb))),
    steadyMax: round(Math.max(...steadyHeap.map((s) => s.heapMb))),
  },
  heapSlopeMbPerMinAfterWarmup: Number(heapSlope.toFixed(2)),
  heapRiseFirstToLastThirdMb: Number(heapRiseMb.toFixed(2)),
  heapSamples: steadyHeap.length,
  heapTotalMb: { start: round(firstHeap.heapTotalMb), end: round(idleEnd.heapTotalMb) },
  // Mostly PGlite's WebAssembly memory.
  externalMb: { start: round(firstHeap.externalMb), end: round(idleEnd.externalMb) },
  rssMb: {
    start: round(first.rssMb),
    end: round(last.rssMb),
    steadyMin: round(steadyRss.length > 0 ? Math.min(...steadyRss) : 0),
    steadyMedian: round(medianOf(steadyRss)),
    steadyMax: round(steadyRss.length > 0 ? Math.max(...steadyRss) : 0),
  },
  rssSlopeMbPerMinAfterWarmup: round(rssSlope),
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
const [before, after] = snapshots
if (before && after) {
  process.stdout.write(`heap snapshots: ${before} → ${after}; live objects that grew most:\n`)
  for (const row of diffSnapshots(before, after)) {
    process.stdout.write(`  ${row.grew}\t(${row.before} → ${row.after}, ${row.grewKb} KB)\t${row.name}\n`)
  }
}
// A leak is live heap that only grows; 1 MB a minute is a few hundred bytes per turn at the soak's
// rate. Over a short run a sample or two taken mid-burst tilts the slope by as much, so a
// rise under 2 MB between the first and the last third of the run counts as flat whatever
// the slope (the leak that set this bar grew 1.6 MB/min, about 5 MB over a 5-minute run).
const flat = heapSlope < 1 || heapRiseMb < 2
process.exit(counts.mismatches === 0 && flat ? 0 : 1)
