import { ParleyError } from '@parley/core'

/** Per-user admission limits: a request rate and a number of concurrent long-lived streams. */
export interface LimitsOptions {
  /** Requests a user may make per minute (token bucket refill); 0 turns the limit off. */
  ratePerMinute: number
  /** Bucket size, i.e. the burst a quiet user may make at once. Default: `ratePerMinute`. */
  burst?: number
  /** Concurrent streams (tRPC subscriptions, `/v1` streamed or awaited responses) per user; 0 = no cap. */
  maxStreamsPerUser: number
  now?: () => number
}

interface Bucket {
  tokens: number
  at: number
}

/** Releases a stream slot; calling it more than once is harmless. */
export type Release = () => void

/**
 * One instance per server process. Buckets live in memory: a limit per instance is what keeps
 * one noisy client from starving the others on it, and it needs no database round trip on the
 * hot path. Several instances each apply their own budget.
 */
export class UserLimits {
  readonly #rate: number
  readonly #burst: number
  readonly #maxStreams: number
  readonly #now: () => number
  readonly #buckets = new Map<string, Bucket>()
  readonly #streams = new Map<string, number>()

  constructor(options: LimitsOptions) {
    this.#rate = Math.max(0, options.ratePerMinute)
    this.#burst = Math.max(1, options.burst ?? options.ratePerMinute)
    this.#maxStreams = Math.max(0, options.maxStreamsPerUser)
    this.#now = options.now ?? Date.now
  }

  /** Takes one request token or throws `rate_limited` (429) with the wait until the next token. */
  takeRequest(userId: string): void {
    if (this.#rate === 0) return
    const now = this.#now()
    const perMs = this.#rate / 60_000
    const bucket = this.#buckets.get(userId) ?? { tokens: this.#burst, at: now }
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) * perMs)
    bucket.at = now
    if (bucket.tokens < 1) {
      this.#buckets.set(userId, bucket)
      const retryAfterMs = Math.ceil((1 - bucket.tokens) / perMs)
      throw new ParleyError('rate_limited', 'Too many requests; slow down', 429, { retryAfterMs })
    }
    bucket.tokens -= 1
    this.#buckets.set(userId, bucket)
    // Full buckets carry no information: dropping them keeps the map as small as the active set.
    if (this.#buckets.size > 10_000) this.#sweep(now, perMs)
  }

  /** Claims a stream slot or throws `too_many_streams` (429). */
  openStream(userId: string): Release {
    if (this.#maxStreams === 0) return () => {}
    const open = this.#streams.get(userId) ?? 0
    if (open >= this.#maxStreams) {
      throw new ParleyError(
        'too_many_streams',
        `At most ${this.#maxStreams} concurrent streams per user (subscriptions, and /v1 responses until they end, streamed or not); wait for one to end`,
        429,
        { retryAfterMs: 1_000 },
      )
    }
    this.#streams.set(userId, open + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const left = (this.#streams.get(userId) ?? 1) - 1
      if (left <= 0) this.#streams.delete(userId)
      else this.#streams.set(userId, left)
    }
  }

  /** Open streams of a user (for tests and metrics). */
  streams(userId: string): number {
    return this.#streams.get(userId) ?? 0
  }

  #sweep(now: number, perMs: number): void {
    for (const [userId, bucket] of this.#buckets) {
      if (bucket.tokens + (now - bucket.at) * perMs >= this.#burst) this.#buckets.delete(userId)
    }
  }
}

/**
 * Wraps a subscription's async iterable so that `release` runs exactly once, however the
 * iteration ends: completion, an error, the client leaving (`return()`), or the request's
 * abort signal when the iterable was never started.
 */
export function releasingIterable<T>(
  iterable: AsyncIterable<T>,
  slot: Release,
  signal?: AbortSignal,
): AsyncIterable<T> {
  // The abort listener goes with the slot: tRPC's signal is composite (`AbortSignal.any`), and
  // Node keeps a composite signal that has an abort listener alive until it aborts, which a
  // subscription that ends normally never does (one signal and this closure leaked per stream).
  const release = () => {
    signal?.removeEventListener('abort', release)
    slot()
  }
  signal?.addEventListener('abort', release, { once: true })
  return {
    [Symbol.asyncIterator]() {
      const inner = iterable[Symbol.asyncIterator]()
      return {
        async next() {
          try {
            const result = await inner.next()
            if (result.done) release()
            return result
          } catch (error) {
            release()
            throw error
          }
        },
        async return(value?: unknown) {
          release()
          return inner.return ? inner.return(value) : { done: true as const, value: undefined }
        },
        async throw(error?: unknown) {
          release()
          if (inner.throw) return inner.throw(error)
          throw error
        },
      }
    },
  }
}
