import { performance } from 'node:perf_hooks'

export interface LoadOptions {
  /** Operations in flight at once (closed loop: each worker waits for its previous one). */
  concurrency: number
  /** The run stops issuing after this long… */
  durationMs: number
  /** …or after this many operations, whichever comes first. */
  maxOperations: number
  /** Operations run (and discarded) before measuring, spread over the workers. */
  warmup?: number
}

export interface LoadResult {
  concurrency: number
  /** Latency of each successful operation, in milliseconds. */
  latencies: number[]
  errors: number
  /** A few distinct error messages, for the report. */
  errorSamples: string[]
  elapsedMs: number
  /** Successful operations per second over the measured window. */
  throughput: number
}

/** One operation of worker `worker`; a rejection counts as an error. */
export type Operation = (worker: number) => Promise<void>

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 200)
  return String(error).slice(0, 200)
}

/**
 * Closed-loop load: `concurrency` workers, each issuing its next operation when the previous one
 * ends, bounded in count and in time so that a misbehaving server cannot stretch the run.
 */
/** `onMeasuredStart` runs once warm-up is over, right before the measured turns begin. */
export async function runLoad(
  options: LoadOptions,
  operation: Operation,
  onMeasuredStart?: () => void,
): Promise<LoadResult> {
  const { concurrency, durationMs, maxOperations } = options
  const warmup = options.warmup ?? 0
  if (warmup > 0) {
    let left = warmup
    await Promise.all(
      Array.from({ length: Math.min(concurrency, warmup) }, async (_, worker) => {
        while (left > 0) {
          left -= 1
          await operation(worker).catch(() => undefined)
        }
      }),
    )
  }
  const latencies: number[] = []
  const errorSamples = new Set<string>()
  let errors = 0
  let issued = 0
  onMeasuredStart?.()
  const started = performance.now()
  const deadline = started + durationMs
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (issued < maxOperations && performance.now() < deadline) {
        issued += 1
        const t0 = performance.now()
        try {
          await operation(worker)
          latencies.push(performance.now() - t0)
        } catch (error) {
          errors += 1
          if (errorSamples.size < 5) errorSamples.add(describe(error))
        }
      }
    }),
  )
  const elapsedMs = performance.now() - started
  return {
    concurrency,
    latencies,
    errors,
    errorSamples: [...errorSamples],
    elapsedMs,
    throughput: elapsedMs > 0 ? (latencies.length * 1000) / elapsedMs : 0,
  }
}

export interface InterleavedOptions {
  /** Measured rounds; a round runs one operation of every path, in order. */
  rounds: number
  /** No round starts after this long (measured rounds only). */
  durationMs: number
  /** Rounds run (and discarded) first. */
  warmup: number
}

export interface InterleavedResult<T> {
  /** Per path, in the order given: the value of each successful operation. */
  values: T[][]
  /** Per path: how long each successful operation took, in milliseconds. */
  latencies: number[][]
  errors: number[]
  errorSamples: string[][]
  rounds: number
}

/**
 * One operation at a time, taking the paths in turn (round after round), so that a machine that
 * slows down or speeds up during the run does so for every path alike: differences between the
 * paths (what one adds over another) hold even where the absolute figures drift. `around` runs
 * just before and after each measured operation, outside its timing.
 */
export async function runInterleaved<T>(
  operations: readonly (() => Promise<T>)[],
  options: InterleavedOptions,
  around?: { before?: (path: number) => void; after?: (path: number) => void },
): Promise<InterleavedResult<T>> {
  for (let round = 0; round < options.warmup; round++) {
    for (const operation of operations) await operation().catch(() => undefined)
  }
  const values: T[][] = operations.map(() => [])
  const latencies: number[][] = operations.map(() => [])
  const errors = operations.map(() => 0)
  const samples = operations.map(() => new Set<string>())
  const deadline = performance.now() + options.durationMs
  let rounds = 0
  while (rounds < options.rounds && performance.now() < deadline) {
    rounds += 1
    for (const [path, operation] of operations.entries()) {
      around?.before?.(path)
      const t0 = performance.now()
      try {
        const value = await operation()
        latencies[path]?.push(performance.now() - t0)
        values[path]?.push(value)
      } catch (error) {
        errors[path] = (errors[path] ?? 0) + 1
        if ((samples[path]?.size ?? 0) < 5) samples[path]?.add(describe(error))
      }
      around?.after?.(path)
    }
  }
  return { values, latencies, errors, errorSamples: samples.map((set) => [...set]), rounds }
}

/** Runs `tasks` with at most `limit` in flight; results keep their order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
) {
  const results: R[] = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next
        next += 1
        results[index] = await task(items[index] as T, index)
      }
    }),
  )
  return results
}
