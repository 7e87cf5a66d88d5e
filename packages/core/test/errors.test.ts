import { describe, expect, it } from 'vitest'
import {
  ConflictError,
  InternalError,
  NotFoundError,
  ParleyError,
  RateLimitedError,
  toParleyError,
  UnauthenticatedError,
  UpstreamError,
  ValidationError,
} from '../src/index.ts'

describe('error family', () => {
  it('gives every kind a stable reason and status', () => {
    const cases: [ParleyError, string, number][] = [
      [new ValidationError([{ path: 'input', message: 'Required' }]), 'validation', 400],
      [new UnauthenticatedError(), 'unauthenticated', 401],
      [new NotFoundError('conversation', 'conv_x'), 'not_found', 404],
      [new ConflictError('idempotency_key_reused', 'x'), 'idempotency_key_reused', 422],
      [new ConflictError('conversation_busy', 'x'), 'conversation_busy', 409],
      [new RateLimitedError('rate_limited', 'slow down', 1500), 'rate_limited', 429],
      [new UpstreamError('upstream_unavailable', 'x'), 'upstream_unavailable', 503],
      [new UpstreamError('context_length_exceeded', 'x'), 'context_length_exceeded', 400],
      [new InternalError(), 'internal', 500],
    ]
    for (const [error, reason, status] of cases) {
      expect(error).toBeInstanceOf(ParleyError)
      expect(error.reason).toBe(reason)
      expect(error.status).toBe(status)
      expect(error.name).toBe(error.constructor.name)
    }
  })

  it('serializes to the typed shape clients see, with retry-after when known', () => {
    expect(new RateLimitedError('rate_limited', 'slow down', 1500).toJSON()).toEqual({
      reason: 'rate_limited',
      message: 'slow down',
      retryAfterMs: 1500,
    })
    expect(new NotFoundError('turn').toJSON()).toEqual({ reason: 'not_found', message: 'No turn found' })
  })

  it('marks only transient upstream failures retryable', () => {
    expect(new UpstreamError('upstream_rate_limited', 'x').retryable).toBe(true)
    expect(new UpstreamError('upstream_timeout', 'x').retryable).toBe(true)
    expect(new UpstreamError('upstream_auth', 'x').retryable).toBe(false)
    expect(new UpstreamError('stream_broken', 'x').retryable).toBe(false)
  })

  it('turns unknown errors into a bare internal error that leaks nothing', () => {
    const leaked = toParleyError(
      new Error('duplicate key value violates unique constraint "turns_pkey" sk-secret'),
    )
    expect(leaked.reason).toBe('internal')
    expect(leaked.message).toBe('Internal error')
    const known = new ConflictError('conversation_busy', 'busy')
    expect(toParleyError(known)).toBe(known)
  })

  it('names the first invalid field in the message', () => {
    const error = new ValidationError([
      { path: 'input.0.role', message: 'Invalid option' },
      { path: 'model', message: 'Too long' },
    ])
    expect(error.message).toBe('Invalid input: input.0.role: Invalid option (and 1 more)')
  })
})
