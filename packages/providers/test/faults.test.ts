import type { Provider, ProviderRequest } from '@parley/core'
import { UpstreamError } from '@parley/core'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type FakeUpstream, startFakeUpstream } from '../src/fake-upstream/index.ts'
import { OpenAIChatProvider, OpenAIResponsesProvider } from '../src/index.ts'
import type { RetryPolicy } from '../src/retry.ts'
import { collectStream } from '../src/testing/index.ts'
import { FAST_RETRY, providerRequest, timed } from './helpers.ts'

/**
 * Every fault class, against both adapters, through the real openai SDK and a real HTTP server.
 * Each case asserts how many upstream calls the request caused.
 */

let upstream: FakeUpstream
const API_KEY = 'sk-secret-fault-key-1234567890'

beforeAll(async () => {
  upstream = await startFakeUpstream()
})
afterAll(async () => {
  await upstream.stop()
})
beforeEach(() => upstream.reset())

interface AdapterOptions {
  retry?: Partial<RetryPolicy>
  timeoutMs?: number
  idleTimeoutMs?: number
}

const adapters: [string, (options?: AdapterOptions) => Provider][] = [
  [
    'openai-responses',
    (options = {}) =>
      new OpenAIResponsesProvider({
        apiKey: API_KEY,
        baseURL: upstream.url,
        ...options,
        retry: { ...FAST_RETRY, ...options.retry },
      }),
  ],
  [
    'openai-chat',
    (options = {}) =>
      new OpenAIChatProvider({
        apiKey: API_KEY,
        baseURL: upstream.url,
        ...options,
        retry: { ...FAST_RETRY, ...options.retry },
      }),
  ],
]

function words(count: number): string {
  return Array.from({ length: count }, (_, i) => `word${i}`).join(' ')
}

function upstreamError(error: unknown): UpstreamError {
  expect(error).toBeInstanceOf(UpstreamError)
  return error as UpstreamError
}

describe.each(adapters)('%s faults', (_name, make) => {
  const run = (provider: Provider, overrides: Partial<ProviderRequest> = {}) =>
    collectStream(provider.stream(providerRequest(overrides)))

  it('retries a 429 after the Retry-After it was given, then succeeds', async () => {
    upstream.enqueue(
      { fault: { type: 'http_error', status: 429, retryAfterMs: 150 } },
      { text: 'After the wait' },
    )
    const { value: result, ms } = await timed(() => run(make()))
    expect(result.error).toBeUndefined()
    expect(result.text).toBe('After the wait')
    expect(ms).toBeGreaterThanOrEqual(145)
    expect(upstream.callCount()).toBe(2)
  })

  it('honours a Retry-After in seconds', async () => {
    upstream.enqueue({ fault: { type: 'http_error', status: 429, retryAfter: '1' } }, { text: 'Later' })
    const { value: result, ms } = await timed(() => run(make()))
    expect(result.text).toBe('Later')
    expect(ms).toBeGreaterThanOrEqual(990)
    expect(upstream.callCount()).toBe(2)
  })

  it('gives up after the configured retries with a typed rate-limit error', async () => {
    const fault = { type: 'http_error' as const, status: 429, retryAfterMs: 10 }
    upstream.enqueue({ fault }, { fault }, { fault })
    const result = await run(make({ retry: { maxRetries: 2 } }))
    const error = upstreamError(result.error)
    expect(error.reason).toBe('upstream_rate_limited')
    expect(error.retryAfterMs).toBe(10)
    expect(result.events).toEqual([])
    expect(upstream.callCount()).toBe(3)
  })

  it('does not wait out a Retry-After longer than the policy allows', async () => {
    upstream.enqueue({ fault: { type: 'http_error', status: 429, retryAfter: '120' } })
    const result = await run(make())
    expect(upstreamError(result.error).retryAfterMs).toBe(120_000)
    expect(upstream.callCount()).toBe(1)
  })

  it('retries 500 and 503, then succeeds', async () => {
    upstream.enqueue(
      { fault: { type: 'http_error', status: 500 } },
      { fault: { type: 'http_error', status: 503 } },
      { text: 'Third time lucky' },
    )
    const result = await run(make())
    expect(result.text).toBe('Third time lucky')
    expect(upstream.callCount()).toBe(3)
  })

  it('reports upstream_unavailable when 503 persists (1 call + 3 retries by default)', async () => {
    upstream.setHandler(() => ({ fault: { type: 'http_error', status: 503 } }))
    try {
      const result = await run(make())
      expect(upstreamError(result.error).reason).toBe('upstream_unavailable')
      expect(upstream.callCount()).toBe(4)
    } finally {
      upstream.setHandler(undefined)
    }
  })

  it('does not retry an auth failure, and never leaks the key or the upstream message', async () => {
    upstream.enqueue({
      fault: { type: 'http_error', status: 401, message: `Incorrect API key provided: ${API_KEY}` },
    })
    const result = await run(make())
    const error = upstreamError(result.error)
    expect(error.reason).toBe('upstream_auth')
    expect(error.message).not.toContain(API_KEY)
    expect(error.message).not.toContain('Incorrect API key')
    expect(JSON.stringify(error.toJSON())).not.toContain('sk-')
    expect(upstream.callCount()).toBe(1)
  })

  it('maps context_length_exceeded and other 400s without retrying', async () => {
    upstream.enqueue(
      {
        fault: {
          type: 'http_error',
          status: 400,
          code: 'context_length_exceeded',
          message: 'too long: <user text>',
        },
      },
      { fault: { type: 'http_error', status: 400, code: 'invalid_value', param: 'tools[0].name' } },
    )
    const tooLong = upstreamError((await run(make())).error)
    expect(tooLong.reason).toBe('context_length_exceeded')
    expect(tooLong.message).not.toContain('<user text>')
    const bad = upstreamError((await run(make())).error)
    expect(bad.reason).toBe('upstream_bad_request')
    expect(bad.message).toContain('tools[0].name')
    expect(upstream.callCount()).toBe(2)
  })

  it('ends a stalled request promptly when aborted', async () => {
    upstream.enqueue({ fault: { type: 'stall' } })
    const controller = new AbortController()
    const pending = run(make(), { signal: controller.signal })
    while (upstream.callCount() === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    const { value: result, ms } = await timed(() => {
      controller.abort()
      return pending
    })
    expect((result.error as Error).name).toBe('AbortError')
    expect(ms).toBeLessThan(1000)
    expect(upstream.callCount()).toBe(1)
  })

  it('times out a stalled request and retries it', async () => {
    upstream.enqueue({ fault: { type: 'stall' } }, { fault: { type: 'stall' } })
    const result = await run(make({ timeoutMs: 150, retry: { maxRetries: 1 } }))
    expect(upstreamError(result.error).reason).toBe('upstream_timeout')
    expect(upstream.callCount()).toBe(2)
  })

  it('times out a stream that goes quiet after the first token, keeping the partial output', async () => {
    upstream.enqueue({ text: words(10), fault: { type: 'stall_after', deltas: 3 } })
    const result = await run(make({ idleTimeoutMs: 150 }))
    expect(upstreamError(result.error).reason).toBe('upstream_timeout')
    expect(result.text).toBe('word0 word1 word2')
    expect(upstream.callCount()).toBe(1)
  })

  it('retries a connection reset before the first token', async () => {
    upstream.enqueue({ fault: { type: 'reset' } }, { text: 'Reconnected' })
    const result = await run(make())
    expect(result.text).toBe('Reconnected')
    expect(upstream.callCount()).toBe(2)
  })

  it('retries a reset after the headers but before any delta', async () => {
    upstream.enqueue({ text: words(5), fault: { type: 'reset_after', deltas: 0 } }, { text: 'Second try' })
    const result = await run(make())
    expect(result.error).toBeUndefined()
    expect(result.text).toBe('Second try')
    expect(upstream.callCount()).toBe(2)
  })

  it('ends with stream_broken and keeps the partial output on a reset after the first token', async () => {
    upstream.enqueue({ text: words(10), fault: { type: 'reset_after', deltas: 4 } })
    const result = await run(make())
    expect(upstreamError(result.error).reason).toBe('stream_broken')
    expect(result.text).toBe('word0 word1 word2 word3')
    expect(result.events.some((e) => e.type === 'done')).toBe(false)
    expect(upstream.callCount()).toBe(1)
  })

  it('ends with stream_broken on a malformed SSE chunk after the first token', async () => {
    upstream.enqueue({ text: words(10), fault: { type: 'malformed_after', deltas: 2 } })
    const result = await run(make())
    expect(upstreamError(result.error).reason).toBe('stream_broken')
    expect(result.text).toBe('word0 word1')
    expect(upstream.callCount()).toBe(1)
  })

  it('does not retry a malformed stream even before the first token', async () => {
    upstream.enqueue({ text: words(3), fault: { type: 'malformed_after', deltas: 0 } })
    const result = await run(make())
    expect(upstreamError(result.error).reason).toBe('stream_broken')
    expect(upstream.callCount()).toBe(1)
  })

  it('stops backing off at once when aborted', async () => {
    upstream.enqueue({ fault: { type: 'http_error', status: 503, retryAfterMs: 5_000 } })
    const controller = new AbortController()
    const pending = run(make(), { signal: controller.signal })
    while (upstream.callCount() === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    const { value: result, ms } = await timed(async () => {
      await new Promise((resolve) => setTimeout(resolve, 50))
      controller.abort()
      return pending
    })
    expect((result.error as Error).name).toBe('AbortError')
    // Well under the 5 s the upstream asked for.
    expect(ms).toBeLessThan(1000)
    expect(upstream.callCount()).toBe(1)
  })
})
