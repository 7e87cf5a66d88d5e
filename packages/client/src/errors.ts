import type { ErrorReason, FieldIssue } from '@parley/core'
import type { AppRouter } from '@parley/server/router'
import { TRPCClientError } from '@trpc/client'

/** `network`: the server could not be reached or the connection broke before an answer. */
export type ClientErrorReason = ErrorReason | 'network' | 'unavailable'

/**
 * What every failed call of a Parley client throws (and what subscriptions report): the
 * server's stable `reason`, the field `issues` of a validation error, and how long to wait
 * before retrying when the server said so. It is also a `TRPCClientError`.
 */
export class ParleyClientError extends TRPCClientError<AppRouter> {
  readonly reason: ClientErrorReason
  readonly issues: FieldIssue[]
  readonly retryAfterMs: number | undefined
  /** HTTP status the server answered with (0 when there was no answer). */
  readonly status: number

  constructor(source: TRPCClientError<AppRouter>) {
    super(source.message, {
      result: source.shape ? { error: source.shape } : undefined,
      cause: source.cause,
      meta: source.meta,
    })
    // TRPCClientError pins its own prototype in its constructor; restore the subclass's.
    Object.setPrototypeOf(this, new.target.prototype)
    this.name = 'ParleyClientError'
    const data = source.data
    if (data) {
      this.reason = (data.reason as ClientErrorReason | undefined) ?? 'internal'
      this.issues = data.issues ?? []
      this.retryAfterMs = data.retryAfterMs ?? undefined
      this.status = data.httpStatus
    } else {
      const status = httpStatusOf(source.meta)
      this.reason = status === 503 ? 'unavailable' : status === 413 ? 'payload_too_large' : 'network'
      this.issues = []
      this.retryAfterMs = undefined
      this.status = status
    }
  }
}

function httpStatusOf(meta: Record<string, unknown> | undefined): number {
  const response = meta?.['response']
  if (
    response &&
    typeof response === 'object' &&
    'status' in response &&
    typeof response.status === 'number'
  ) {
    return response.status
  }
  return 0
}

/** Any error from a Parley call as a `ParleyClientError`. */
export function toParleyClientError(error: unknown): ParleyClientError {
  if (error instanceof ParleyClientError) return error
  if (error instanceof TRPCClientError) return new ParleyClientError(error)
  const cause = error instanceof Error ? error : new Error(String(error))
  return new ParleyClientError(TRPCClientError.from(cause))
}

export function isParleyClientError(error: unknown): error is ParleyClientError {
  return error instanceof ParleyClientError
}
