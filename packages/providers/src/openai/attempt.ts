import { UpstreamError } from '@parley/core'
import OpenAI from 'openai'
import { abortErrorOf, normalizeUpstreamError, type StreamPhase } from '../errors.ts'
import { type RetryPolicy, retryPolicy } from '../retry.ts'
import { createHttpFetch } from './http-fetch.ts'

/** Options shared by both OpenAI adapters. */
export interface OpenAIAdapterOptions {
  /** Required for api.openai.com; local servers (Ollama, vLLM, …) accept any string. */
  apiKey?: string
  baseURL?: string
  model?: string
  /** Time to wait for response headers (default 60 s). */
  timeoutMs?: number
  /** Longest silence between two stream chunks before the attempt counts as timed out (default 60 s). */
  idleTimeoutMs?: number
  retry?: Partial<RetryPolicy>
  /** A ready client (tests, custom fetch); its own retries should be off. */
  client?: OpenAI
}

export interface ResolvedOpenAIOptions {
  client: OpenAI
  model: string
  idleTimeoutMs: number
  retry: RetryPolicy
}

export function resolveOpenAIOptions(
  options: OpenAIAdapterOptions,
  defaultModel: string,
): ResolvedOpenAIOptions {
  const client =
    options.client ??
    new OpenAI({
      // The SDK refuses to start without a key; local OpenAI-compatible servers ignore it.
      apiKey: options.apiKey ?? (options.baseURL ? 'unused' : undefined),
      baseURL: options.baseURL ?? null,
      timeout: options.timeoutMs ?? 60_000,
      // Our retry loop owns the count (and knows about the first token); the SDK's would multiply it.
      maxRetries: 0,
      // The SDK logs unparsable chunks verbatim; upstream bodies stay out of our logs.
      logLevel: 'off',
      fetch: createHttpFetch(),
    })
  return {
    client,
    model: options.model ?? defaultModel,
    idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
    retry: retryPolicy(options.retry),
  }
}

/**
 * One upstream attempt's signal: follows the caller's signal and also fires when the upstream
 * goes quiet for `idleTimeoutMs` (the SDK's own timeout stops counting once headers arrive).
 */
/** The abort reason of an attempt released after use: nobody reads it, so one object serves all. */
const RELEASED = Object.freeze(new Error('The attempt was released'))

export class AttemptControl {
  readonly #controller = new AbortController()
  readonly #parent: AbortSignal
  readonly #idleTimeoutMs: number
  #timer: ReturnType<typeof setTimeout> | undefined
  #timedOut = false
  #lastActivity = 0
  readonly #onParentAbort = () => this.#controller.abort(this.#parent.reason)

  constructor(parent: AbortSignal, idleTimeoutMs: number) {
    this.#parent = parent
    this.#idleTimeoutMs = idleTimeoutMs
    if (parent.aborted) this.#controller.abort(parent.reason)
    else parent.addEventListener('abort', this.#onParentAbort, { once: true })
    this.touch()
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  /** Something arrived: the upstream is alive. */
  touch(): void {
    // One timer per attempt, re-armed lazily: resetting a timer on every token costs more.
    this.#lastActivity = performance.now()
    if (this.#timer === undefined) this.#arm(this.#idleTimeoutMs)
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => {
      const quietFor = performance.now() - this.#lastActivity
      if (quietFor < this.#idleTimeoutMs) {
        this.#arm(this.#idleTimeoutMs - quietFor)
        return
      }
      this.#timedOut = true
      this.#controller.abort(new DOMException('The upstream went quiet', 'TimeoutError'))
    }, ms)
  }

  /** The SDK ends a stream silently when its signal fires; this says whether that happened. */
  get interrupted(): boolean {
    return this.#controller.signal.aborted
  }

  /** The error to throw for `error` (or for a silent end after an abort), in this phase. */
  failure(error: unknown, phase: StreamPhase): Error {
    if (this.#parent.aborted) return abortErrorOf(this.#parent)
    if (this.#timedOut) return new UpstreamError('upstream_timeout', 'The upstream stopped sending data')
    return normalizeUpstreamError(error, phase)
  }

  dispose(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#parent.removeEventListener('abort', this.#onParentAbort)
    // Releases the socket of a stream the consumer stopped reading. With a reason given, no
    // DOMException (and its stack trace) is built for every finished attempt.
    if (!this.#controller.signal.aborted) this.#controller.abort(RELEASED)
  }
}
