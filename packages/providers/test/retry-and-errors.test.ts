import { UpstreamError } from '@parley/core'
import { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai'
import { describe, expect, it } from 'vitest'
import { normalizeUpstreamError, retryAfterFromHeaders } from '../src/errors.ts'
import { backoffDelayMs, retryBeforeFirstEvent, retryPolicy } from '../src/retry.ts'

describe('retry policy', () => {
  it('backs off exponentially with bounded jitter, and never below a Retry-After', () => {
    const low = retryPolicy({ baseDelayMs: 100, maxDelayMs: 1_000, random: () => 0 })
    const high = retryPolicy({ baseDelayMs: 100, maxDelayMs: 1_000, random: () => 0.999 })
    expect([1, 2, 3, 4, 5].map((n) => backoffDelayMs(n, low))).toEqual([50, 100, 200, 400, 500])
    expect([1, 2, 3, 4, 5].map((n) => backoffDelayMs(n, high))).toEqual([100, 200, 400, 800, 1000])
    expect(backoffDelayMs(1, low, 750)).toBe(750)
  })

  it('retries only until something was yielded', async () => {
    let attempts = 0
    const policy = retryPolicy({ baseDelayMs: 1, maxDelayMs: 1 })
    const events: number[] = []
    let caught: unknown
    try {
      for await (const n of retryBeforeFirstEvent(
        async function* () {
          attempts += 1
          if (attempts === 1) throw new UpstreamError('upstream_unavailable', 'first')
          yield attempts
          throw new UpstreamError('upstream_unavailable', 'after a token')
        },
        { signal: new AbortController().signal, policy },
      )) {
        events.push(n)
      }
    } catch (error) {
      caught = error
    }
    expect(attempts).toBe(2)
    expect(events).toEqual([2])
    expect((caught as UpstreamError).message).toBe('after a token')
  })
})

describe('error normalization', () => {
  const headers = (values: Record<string, string>) => new Headers(values)

  it('reads retry-after-ms, then retry-after in seconds or as a date', () => {
    expect(retryAfterFromHeaders(headers({ 'retry-after-ms': '250', 'retry-after': '9' }))).toBe(250)
    expect(retryAfterFromHeaders(headers({ 'retry-after': '2' }))).toBe(2000)
    const now = Date.parse('2026-01-01T00:00:00Z')
    expect(retryAfterFromHeaders(headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:03 GMT' }), now)).toBe(3000)
    expect(retryAfterFromHeaders(headers({}))).toBeUndefined()
  })

  it('maps SDK errors to reasons without carrying the upstream message', () => {
    const secret = 'Incorrect API key provided: sk-abc***xyz'
    const cases: [unknown, string][] = [
      [
        APIError.generate(429, { error: { message: secret } }, undefined, headers({})),
        'upstream_rate_limited',
      ],
      [
        APIError.generate(
          429,
          { error: { message: secret, code: 'insufficient_quota' } },
          undefined,
          headers({}),
        ),
        'upstream_auth',
      ],
      [APIError.generate(401, { error: { message: secret } }, undefined, headers({})), 'upstream_auth'],
      [APIError.generate(403, { error: { message: secret } }, undefined, headers({})), 'upstream_auth'],
      [
        APIError.generate(400, { error: { message: secret } }, undefined, headers({})),
        'upstream_bad_request',
      ],
      [
        APIError.generate(
          400,
          { error: { message: "This model's maximum context length is 8192 tokens" } },
          undefined,
          headers({}),
        ),
        'context_length_exceeded',
      ],
      [
        APIError.generate(502, { error: { message: secret } }, undefined, headers({})),
        'upstream_unavailable',
      ],
      [APIError.generate(504, { error: { message: secret } }, undefined, headers({})), 'upstream_timeout'],
      [new APIConnectionTimeoutError(), 'upstream_timeout'],
      [new APIConnectionError({ message: secret }), 'upstream_unavailable'],
      [new SyntaxError(secret), 'stream_broken'],
    ]
    for (const [error, reason] of cases) {
      const normalized = normalizeUpstreamError(error, 'before_first_event')
      expect(normalized.reason).toBe(reason)
      expect(normalized.message).not.toContain('sk-')
      expect(normalized.message).not.toContain('Incorrect')
    }
    expect(normalizeUpstreamError(new TypeError('terminated'), 'after_first_event').reason).toBe(
      'stream_broken',
    )
    expect(normalizeUpstreamError(new TypeError('terminated'), 'before_first_event').reason).toBe(
      'upstream_unavailable',
    )
  })
})
