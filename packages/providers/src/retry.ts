import { UpstreamError } from '@parley/core'
import { abortErrorOf } from './errors.ts'

export interface RetryPolicy {
  /** Retries after the first attempt (default 3). */
  maxRetries: number
  /** First backoff step; doubles each retry (default 250 ms). */
  baseDelayMs: number
  /** Cap of one computed backoff step (default 8 s). */
  maxDelayMs: number
  /**
   * A Retry-After longer than this is not waited out: the error goes to the caller at once,
   * carrying `retryAfterMs`, because holding a turn open for minutes helps nobody.
   */
  maxRetryAfterMs: number
  /** Injectable for tests; returns a number in [0, 1). */
  random: () => number
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxRetries: 3,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 30_000,
  random: Math.random,
}

export function retryPolicy(overrides?: Partial<RetryPolicy>): RetryPolicy {
  return { ...DEFAULT_RETRY_POLICY, ...overrides }
}

/**
 * Delay before retry number `retry` (1-based). "Equal jitter": half fixed, half random, so that
 * concurrent turns spread out but none retries immediately. A Retry-After from the upstream
 * is a floor, not a hint.
 */
export function backoffDelayMs(retry: number, policy: RetryPolicy, retryAfterMs?: number): number {
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1))
  const jittered = step / 2 + (policy.random() * step) / 2
  return Math.round(retryAfterMs === undefined ? jittered : Math.max(retryAfterMs, jittered))
}

/** Resolves after `ms`, or rejects with the signal's AbortError as soon as it is aborted. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(abortErrorOf(signal))
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer)
      reject(abortErrorOf(signal))
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

export interface RetryOptions {
  signal: AbortSignal
  policy: RetryPolicy
  /**
   * Called for a failure before the first event. Returning true means "the attempt can be
   * repeated right away with changed inputs" (e.g. dropping a lost `previous_response_id`);
   * such a repeat is not counted as a retry.
   */
  recover?: (error: UpstreamError) => boolean
}

/**
 * Runs `attempt` and re-runs it on retryable failures, but only while nothing has been yielded:
 * once a caller has seen an event, a retry would duplicate output, so later errors pass through.
 * `attempt` must throw UpstreamErrors (or the abort error).
 */
export async function* retryBeforeFirstEvent<T>(
  attempt: () => AsyncIterable<T>,
  options: RetryOptions,
): AsyncGenerator<T> {
  const { signal, policy } = options
  let retries = 0
  for (;;) {
    if (signal.aborted) throw abortErrorOf(signal)
    let yielded = false
    try {
      for await (const event of attempt()) {
        yielded = true
        yield event
      }
      return
    } catch (error) {
      if (signal.aborted) throw abortErrorOf(signal)
      if (yielded || !(error instanceof UpstreamError)) throw error
      if (options.recover?.(error)) continue
      if (!error.retryable || retries >= policy.maxRetries) throw error
      if (error.retryAfterMs !== undefined && error.retryAfterMs > policy.maxRetryAfterMs) throw error
      retries += 1
      await sleep(backoffDelayMs(retries, policy, error.retryAfterMs), signal)
    }
  }
}
