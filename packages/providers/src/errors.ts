import { UpstreamError, type UpstreamReason } from '@parley/core'
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai'

/**
 * Turns whatever the openai SDK (or the network under it) threw into the core UpstreamError
 * family. Messages carry the status and the upstream's error code/param (identifiers only):
 * never the upstream's message or body, which can echo the key (`Incorrect API key provided:
 * sk-…`) or user content.
 */

/** Where the failure happened: before anything was yielded to the caller, or after. */
export type StreamPhase = 'before_first_event' | 'after_first_event'

export function abortErrorOf(signal: AbortSignal): Error {
  const reason: unknown = signal.reason
  if (reason instanceof Error) return reason
  return new DOMException('The operation was aborted', 'AbortError')
}

export function isAbortLike(error: unknown): boolean {
  if (error instanceof APIUserAbortError) return true
  return error instanceof Error && error.name === 'AbortError'
}

export function normalizeUpstreamError(error: unknown, phase: StreamPhase): UpstreamError {
  if (error instanceof UpstreamError) return error
  if (error instanceof APIConnectionTimeoutError) {
    return new UpstreamError('upstream_timeout', 'The upstream did not answer in time')
  }
  if (error instanceof APIConnectionError) {
    return new UpstreamError('upstream_unavailable', 'Could not connect to the upstream')
  }
  if (error instanceof APIError) return fromApiError(error, phase)
  if (error instanceof SyntaxError) {
    return new UpstreamError('stream_broken', 'The upstream sent a malformed stream')
  }
  // A body that ends abruptly surfaces as a bare TypeError ("terminated") from fetch.
  return phase === 'before_first_event'
    ? new UpstreamError('upstream_unavailable', 'The upstream connection failed before the reply started')
    : new UpstreamError('stream_broken', 'The upstream stream broke off')
}

function fromApiError(error: APIError, phase: StreamPhase): UpstreamError {
  const status = error.status
  const code = safeIdentifier(error.code)
  const param = safeIdentifier(error.param)
  const detail = describe(status, code, param)

  if (code === 'context_length_exceeded' || (status === 400 && mentionsContextLength(error))) {
    return new UpstreamError(
      'context_length_exceeded',
      `The context is longer than the model accepts${detail}`,
    )
  }
  if (code === 'previous_response_not_found') {
    return new UpstreamError(
      'previous_response_not_found',
      `The upstream does not know the previous response${detail}`,
    )
  }
  if (status === undefined) {
    // An error object inside an otherwise successful stream.
    return fromErrorCode(code, phase, detail)
  }
  // Servers send Retry-After with 503s too, not only with 429s.
  const retryAfterMs = retryAfterFromHeaders(error.headers)
  const retry = retryAfterMs === undefined ? undefined : { retryAfterMs }
  if (status === 429) {
    if (code === 'insufficient_quota') {
      // Waiting does not help: this is an account problem, not a transient limit.
      return new UpstreamError('upstream_auth', `The upstream account has no quota left${detail}`)
    }
    return new UpstreamError('upstream_rate_limited', `The upstream rate-limited the request${detail}`, retry)
  }
  if (status === 401 || status === 403) {
    return new UpstreamError('upstream_auth', `The upstream rejected the credentials${detail}`)
  }
  if (status === 408 || status === 504) {
    return new UpstreamError('upstream_timeout', `The upstream timed out${detail}`, retry)
  }
  if (status === 409 || status >= 500) {
    return new UpstreamError('upstream_unavailable', `The upstream is unavailable${detail}`, retry)
  }
  return new UpstreamError('upstream_bad_request', `The upstream rejected the request${detail}`)
}

function fromErrorCode(code: string | undefined, phase: StreamPhase, detail: string): UpstreamError {
  const reason: UpstreamReason =
    code === 'rate_limit_exceeded'
      ? 'upstream_rate_limited'
      : phase === 'after_first_event'
        ? 'stream_broken'
        : code === 'invalid_request_error' || code === 'invalid_prompt'
          ? 'upstream_bad_request'
          : 'upstream_unavailable'
  return new UpstreamError(reason, `The upstream reported an error in the stream${detail}`)
}

/** For error codes carried inside a stream event (`error`, `response.failed`). */
export function upstreamErrorFromCode(code: unknown, phase: StreamPhase): UpstreamError {
  const safe = safeIdentifier(code)
  if (safe === 'context_length_exceeded') {
    return new UpstreamError('context_length_exceeded', 'The context is longer than the model accepts')
  }
  if (safe === 'previous_response_not_found') {
    return new UpstreamError(
      'previous_response_not_found',
      'The upstream does not know the previous response',
    )
  }
  return fromErrorCode(safe, phase, safe ? ` (code ${safe})` : '')
}

function mentionsContextLength(error: APIError): boolean {
  // vLLM, llama.cpp and others say it in prose only; the text is matched here, never forwarded.
  return /context length|context window|maximum context|too many tokens/i.test(error.message)
}

function describe(status: number | undefined, code: string | undefined, param: string | undefined): string {
  const parts = [
    status === undefined ? null : String(status),
    code ? `code ${code}` : null,
    param ? `param ${param}` : null,
  ].filter((part): part is string => part !== null)
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`
}

function safeIdentifier(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  return /^[A-Za-z0-9_.[\]-]{1,80}$/.test(value) ? value : undefined
}

/** `retry-after-ms` (non-standard, OpenAI sends it) wins over `retry-after` (seconds or an HTTP date). */
export function retryAfterFromHeaders(headers: Headers | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined
  const ms = headers.get('retry-after-ms')
  if (ms !== null) {
    const value = Number.parseFloat(ms)
    if (Number.isFinite(value) && value >= 0) return Math.round(value)
  }
  const after = headers.get('retry-after')
  if (after === null) return undefined
  const seconds = Number.parseFloat(after)
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000)
  const date = Date.parse(after)
  if (Number.isFinite(date)) return Math.max(0, date - now)
  return undefined
}
