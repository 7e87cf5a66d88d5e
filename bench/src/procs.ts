import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'

/** Every child this run started, so that an interrupted run leaves nothing behind. */
const running = new Set<ChildProcess>()

function killAll(): void {
  for (const child of running) child.kill('SIGKILL')
}
process.once('exit', killAll)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll()
    process.exit(130)
  })
}

/** A free loopback TCP port (bound, read, released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)
    return match?.[1] ? Number(match[1]) * 1024 : Number.NaN
  } catch {
    return Number.NaN
  }
}

/**
 * CPU time (user + system) a process has used so far, in ms, from /proc (Linux; NaN elsewhere).
 * Divided by the turns served in between, it is what one turn costs the process: the figure
 * that bounds a single-threaded server's throughput, whatever else runs on the machine.
 */
export function cpuMsOf(pid: number): number {
  try {
    // Fields after the command name (which may contain spaces): utime and stime are 14th and 15th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    const ticks = Number(fields[11]) + Number(fields[12])
    // Linux reports in clock ticks of 10 ms (USER_HZ = 100) on every common configuration.
    return ticks * 10
  } catch {
    return Number.NaN
  }
}

/** Resident memory of a process, in bytes. */
export function rssOf(pid: number): number {
  return statusField(pid, 'VmRSS')
}

/** Samples a process's RSS every `everyMs` until stopped; `peak()` is the highest seen. */
export function sampleRss(pid: number, everyMs = 25): { peak(): number; stop(): number } {
  let peak = rssOf(pid)
  const timer = setInterval(() => {
    const value = rssOf(pid)
    if (value > peak || Number.isNaN(peak)) peak = value
  }, everyMs)
  timer.unref()
  return {
    peak: () => peak,
    stop: () => {
      clearInterval(timer)
      const value = rssOf(pid)
      if (value > peak) peak = value
      return peak
    },
  }
}

export interface ReadyProbe {
  /** Polled until it answers with `status` (any status when omitted). */
  url: string
  status?: number
}

/** Polls `probe.url` until it answers as expected; resolves with the milliseconds it took. */
export async function waitForHttp(probe: ReadyProbe, timeoutMs: number, isAlive: () => boolean = () => true) {
  const started = performance.now()
  for (;;) {
    if (!isAlive()) throw new Error(`process exited before ${probe.url} answered`)
    try {
      const response = await request(probe.url, { headersTimeout: 1000, bodyTimeout: 1000 })
      await response.body.dump()
      if (probe.status === undefined || response.statusCode === probe.status)
        return performance.now() - started
    } catch {
      // Not listening yet.
    }
    if (performance.now() - started > timeoutMs)
      throw new Error(`${probe.url} not ready after ${timeoutMs} ms`)
    await sleep(5)
  }
}

export interface StartOptions {
  name: string
  /** Arguments to `node`. */
  args: string[]
  cwd: string
  env?: Record<string, string | undefined>
  /** Ready when this answers; without it, ready when the child sends `{ type: 'ready', url }` over IPC. */
  probe?: ReadyProbe
  timeoutMs?: number
}

export interface Child {
  name: string
  pid: number
  /** From the IPC ready message, or the probe's origin. */
  url: string
  /** Milliseconds from spawn to ready. */
  readyMs: number
  rss(): number
  /** The last lines the child printed, for error reports. */
  tail(): string
  /** Asks the child over IPC and resolves with its answer (`{ id, ... }` correlation). */
  ask<T>(message: Record<string, unknown>, timeoutMs?: number): Promise<T>
  stop(): Promise<void>
}

let nextAsk = 1

/** Starts `node <args>` in its own process, so the load generator never shares its event loop. */
export async function startNode(options: StartOptions): Promise<Child> {
  const timeoutMs = options.timeoutMs ?? 60_000
  const started = performance.now()
  const child = spawn(process.execPath, options.args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  running.add(child)
  const lines: string[] = []
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean))
    if (lines.length > 40) lines.splice(0, lines.length - 40)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  let exited = false
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true
      running.delete(child)
      resolve()
    }),
  )
  const tail = () => lines.join('\n')

  let url: string
  try {
    if (options.probe) {
      await waitForHttp(options.probe, timeoutMs, () => !exited)
      url = new URL(options.probe.url).origin
    } else {
      url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ready message after ${timeoutMs} ms`)), timeoutMs)
        child.on('message', (message: { type?: string; url?: string }) => {
          if (message.type === 'ready' && typeof message.url === 'string') {
            clearTimeout(timer)
            resolve(message.url)
          }
        })
        void exit.then(() => {
          clearTimeout(timer)
          reject(new Error('process exited before it was ready'))
        })
      })
    }
  } catch (error) {
    child.kill('SIGKILL')
    await exit
    throw new Error(`${options.name}: ${(error as Error).message}\n${tail()}`)
  }
  const readyMs = performance.now() - started
  const pid = child.pid ?? -1

  return {
    name: options.name,
    pid,
    url,
    readyMs,
    rss: () => rssOf(pid),
    tail,
    ask<T>(message: Record<string, unknown>, askTimeoutMs = 10_000): Promise<T> {
      const id = nextAsk++
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.off('message', onMessage)
          reject(new Error(`${options.name} did not answer ${String(message.type)}`))
        }, askTimeoutMs)
        const onMessage = (reply: { id?: number; error?: string } & Record<string, unknown>) => {
          if (reply.id !== id) return
          clearTimeout(timer)
          child.off('message', onMessage)
          if (reply.error) reject(new Error(reply.error))
          else resolve(reply as T)
        }
        child.on('message', onMessage)
        child.send({ ...message, id })
      })
    },
    async stop() {
      if (exited) return
      child.kill('SIGTERM')
      const killed = await Promise.race([exit.then(() => true), sleep(5000).then(() => false)])
      if (!killed) {
        child.kill('SIGKILL')
        await exit
      }
    },
  }
}
