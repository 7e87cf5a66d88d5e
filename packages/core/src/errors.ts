/**
 * The error family. Every error that leaves Parley is one of these: a stable `reason` string
 * that clients can switch on, a human message that never carries a stack, an SQL message or a
 * key, and the HTTP status it maps to (tRPC codes are derived from it in the server).
 */

export type ErrorReason =
  | 'validation'
  | 'unauthenticated'
  | 'not_found'
  | 'idempotency_key_reused'
  | 'conversation_busy'
  | 'rate_limited'
  | 'too_many_streams'
  | 'payload_too_large'
  | 'method_not_allowed'
  | 'unavailable'
  | 'cancelled'
  | 'interrupted'
  | 'step_limit'
  | UpstreamReason
  | 'internal'

export type UpstreamReason =
  | 'upstream_rate_limited'
  | 'upstream_auth'
  | 'upstream_bad_request'
  | 'context_length_exceeded'
  | 'upstream_unavailable'
  | 'upstream_timeout'
  | 'stream_broken'
  | 'previous_response_not_found'

export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `input.0.content.0.text`. */
  path: string
  message: string
}

export class ParleyError extends Error {
  readonly reason: ErrorReason
  readonly status: number
  readonly retryAfterMs: number | undefined

  constructor(
    reason: ErrorReason,
    message: string,
    status: number,
    options?: { retryAfterMs?: number; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.reason = reason
    this.status = status
    this.retryAfterMs = options?.retryAfterMs
  }

  /** The typed error that clients see. */
  toJSON(): { reason: ErrorReason; message: string; retryAfterMs?: number } {
    return this.retryAfterMs === undefined
      ? { reason: this.reason, message: this.message }
      : { reason: this.reason, message: this.message, retryAfterMs: this.retryAfterMs }
  }
}

export class ValidationError extends ParleyError {
  readonly issues: FieldIssue[]
  constructor(issues: FieldIssue[], message?: string) {
    super('validation', message ?? describeIssues(issues), 400)
    this.issues = issues
  }
}

function describeIssues(issues: FieldIssue[]): string {
  const first = issues[0]
  if (!first) return 'Invalid input'
  const where = first.path ? `${first.path}: ` : ''
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''
  return `Invalid input: ${where}${first.message}${more}`
}

export class UnauthenticatedError extends ParleyError {
  constructor(message = 'A valid API key is required') {
    super('unauthenticated', message, 401)
  }
}

/** Also what another user's resources answer: they must be indistinguishable from unknown ids. */
export class NotFoundError extends ParleyError {
  constructor(what: string, id?: string) {
    super('not_found', id ? `No ${what} found with id '${id}'` : `No ${what} found`, 404)
  }
}

export class ConflictError extends ParleyError {
  constructor(reason: 'idempotency_key_reused' | 'conversation_busy', message: string) {
    super(reason, message, reason === 'idempotency_key_reused' ? 422 : 409)
  }
}

export class RateLimitedError extends ParleyError {
  constructor(reason: 'rate_limited' | 'too_many_streams', message: string, retryAfterMs: number) {
    super(reason, message, 429, { retryAfterMs })
  }
}

export class PayloadTooLargeError extends ParleyError {
  constructor(limit: string) {
    super('payload_too_large', `Request is too large: ${limit}`, 413)
  }
}

const UPSTREAM_STATUS: Record<UpstreamReason, number> = {
  upstream_rate_limited: 429,
  upstream_auth: 502,
  upstream_bad_request: 400,
  context_length_exceeded: 400,
  upstream_unavailable: 503,
  upstream_timeout: 504,
  stream_broken: 502,
  previous_response_not_found: 404,
}

const RETRYABLE: ReadonlySet<UpstreamReason> = new Set<UpstreamReason>([
  'upstream_rate_limited',
  'upstream_unavailable',
  'upstream_timeout',
])

/** A provider failure, normalized. `retryable` errors are retried before the first token only. */
export class UpstreamError extends ParleyError {
  override readonly reason: UpstreamReason
  readonly retryable: boolean
  constructor(reason: UpstreamReason, message: string, options?: { retryAfterMs?: number; cause?: unknown }) {
    super(reason, message, UPSTREAM_STATUS[reason], options)
    this.reason = reason
    this.retryable = RETRYABLE.has(reason)
  }
}

export class InternalError extends ParleyError {
  constructor(message = 'Internal error') {
    super('internal', message, 500)
  }
}

/** Anything thrown becomes a ParleyError; unknown errors become a bare `internal` (no detail leaks). */
export function toParleyError(error: unknown): ParleyError {
  if (error instanceof ParleyError) return error
  return new InternalError()
}
