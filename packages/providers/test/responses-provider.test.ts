import { assistantText, userText } from '@parley/core'
import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type FakeUpstream, startFakeUpstream } from '../src/fake-upstream/index.ts'
import { OpenAIResponsesProvider } from '../src/index.ts'
import { collectStream } from '../src/testing/index.ts'
import { CALCULATOR_TOOL, FAST_RETRY, functionCall, functionOutput, providerRequest } from './helpers.ts'

let upstream: FakeUpstream
const API_KEY = 'sk-test-responses-key'

beforeAll(async () => {
  upstream = await startFakeUpstream({ apiKey: API_KEY })
})
afterAll(async () => {
  await upstream.stop()
})
beforeEach(() => upstream.reset())

function provider(options: { nativeState?: boolean; stream?: boolean } = {}) {
  return new OpenAIResponsesProvider({
    apiKey: API_KEY,
    baseURL: upstream.url,
    retry: FAST_RETRY,
    ...options,
  })
}

interface SentBody {
  input: unknown[]
  previous_response_id?: string
  store?: boolean
  stream?: boolean
  tools?: unknown[]
  instructions?: string | null
}

function lastBody(): SentBody {
  return upstream.lastCall('responses')?.body as SentBody
}

describe('openai-responses adapter', () => {
  it('streams plain text with usage and the upstream response id', async () => {
    upstream.enqueue({ text: 'Hello from the fake upstream', usage: { inputTokens: 12 } })
    const result = await collectStream(provider().stream(providerRequest({ instructions: 'Be brief' })))

    expect(result.error).toBeUndefined()
    expect(result.text).toBe('Hello from the fake upstream')
    expect(result.events.filter((e) => e.type === 'text.delta').length).toBe(5)
    const started = result.events[0]
    const done = result.events.at(-1)
    expect(started?.type).toBe('started')
    expect(done).toMatchObject({ type: 'done', finishReason: 'stop' })
    expect(started?.type === 'started' && started.upstreamResponseId).toMatch(/^resp_/)
    expect(done?.type === 'done' && done.upstreamResponseId).toBe(
      started?.type === 'started' && started.upstreamResponseId,
    )
    expect(result.events.find((e) => e.type === 'usage')).toMatchObject({
      usage: { inputTokens: 12, outputTokens: 5, totalTokens: 17, estimated: false },
    })
    expect(upstream.callCount('responses')).toBe(1)
    const body = lastBody()
    expect(body).toMatchObject({ stream: true, store: true, instructions: 'Be brief' })
    expect(body.input).toEqual([
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hello there' }] },
    ])
    expect(upstream.lastCall()?.headers.authorization).toBe(`Bearer ${API_KEY}`)
  })

  it('answers without streaming when asked, with the same events', async () => {
    upstream.enqueue({ text: 'One JSON body', usage: { inputTokens: 3, outputTokens: 3 } })
    const result = await collectStream(provider({ stream: false }).stream(providerRequest()))
    expect(result.error).toBeUndefined()
    expect(result.text).toBe('One JSON body')
    expect(result.events.map((e) => e.type)).toEqual(['started', 'text.delta', 'usage', 'done'])
    expect(lastBody().stream).toBe(false)
    expect(upstream.callCount()).toBe(1)
  })

  it('reports usage details (cached and reasoning tokens) and reasoning items', async () => {
    upstream.enqueue({
      text: 'Thought about it',
      reasoning: 'Considered the question',
      usage: { inputTokens: 40, outputTokens: 9, cachedTokens: 32, reasoningTokens: 6 },
    })
    const result = await collectStream(provider().stream(providerRequest()))
    expect(result.events.find((e) => e.type === 'usage')).toEqual({
      type: 'usage',
      usage: {
        inputTokens: 40,
        outputTokens: 9,
        totalTokens: 49,
        cachedInputTokens: 32,
        reasoningTokens: 6,
        estimated: false,
      },
    })
    expect(result.events.find((e) => e.type === 'reasoning')).toEqual({
      type: 'reasoning',
      item: {
        type: 'reasoning',
        summary: [{ type: 'summary_text', text: 'Considered the question' }],
        encrypted_content: null,
      },
    })
  })

  it('runs a tool-call round trip with assembled arguments and the same call_id', async () => {
    upstream.enqueue(
      {
        toolCalls: [
          { name: 'calculator', arguments: { expression: '6*7' }, callId: 'call_abc', argumentChunks: 4 },
        ],
      },
      { text: 'The answer is 42.' },
    )
    const input = [userText('What is 6*7?')]
    const tools = [CALCULATOR_TOOL]
    const first = await collectStream(provider().stream(providerRequest({ input, tools })))
    expect(first.toolCalls).toEqual([
      { type: 'tool_call', callId: 'call_abc', name: 'calculator', arguments: '{"expression":"6*7"}' },
    ])
    expect(first.events.at(-1)).toMatchObject({ type: 'done', finishReason: 'tool_calls' })
    expect(lastBody().tools).toEqual([{ type: 'function', ...CALCULATOR_TOOL }])

    const second = await collectStream(
      provider().stream(
        providerRequest({
          input: [
            ...input,
            functionCall('call_abc', 'calculator', { expression: '6*7' }),
            functionOutput('call_abc', '42'),
          ],
          tools,
        }),
      ),
    )
    expect(second.text).toBe('The answer is 42.')
    expect(lastBody().input.slice(1)).toEqual([
      { type: 'function_call', call_id: 'call_abc', name: 'calculator', arguments: '{"expression":"6*7"}' },
      { type: 'function_call_output', call_id: 'call_abc', output: '42' },
    ])
    expect(upstream.callCount('responses')).toBe(2)
  })

  it('ends promptly with an AbortError when aborted mid-stream, keeping what arrived', async () => {
    upstream.enqueue({ text: Array.from({ length: 50 }, (_, i) => `w${i}`).join(' '), delayMs: 20 })
    const controller = new AbortController()
    const events: string[] = []
    let caught: unknown
    const started = performance.now()
    try {
      for await (const event of provider().stream(providerRequest({ signal: controller.signal }))) {
        if (event.type === 'text.delta') {
          events.push(event.delta)
          if (events.length === 3) controller.abort()
        }
      }
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(Error)
    expect((caught as Error).name).toBe('AbortError')
    expect(events).toEqual(['w0', ' w1', ' w2'])
    expect(performance.now() - started).toBeLessThan(800)
    expect(upstream.callCount('responses')).toBe(1)
  })

  it('continues from previous_response_id with only the new input (native state)', async () => {
    const p = provider()
    upstream.enqueue({ text: 'First answer' })
    const first = await collectStream(p.stream(providerRequest({ input: [userText('First question')] })))
    const done = first.events.at(-1)
    const previousResponseId = done?.type === 'done' ? done.upstreamResponseId : null
    expect(previousResponseId).toMatch(/^resp_/)

    upstream.enqueue({ text: 'Second answer' })
    const newInput = [userText('Second question')]
    const second = await collectStream(
      p.stream(
        providerRequest({
          input: [userText('First question'), assistantText('First answer'), ...newInput],
          continuation: { previousResponseId: previousResponseId as string, newInput },
        }),
      ),
    )
    expect(second.text).toBe('Second answer')
    expect(lastBody().previous_response_id).toBe(previousResponseId)
    expect(lastBody().input).toHaveLength(1)
    // The upstream resolved the whole chain from its own store.
    expect(JSON.stringify(upstream.lastCall('responses')?.context)).toContain('First answer')
    expect(upstream.callCount('responses')).toBe(2)
  })

  it.each([
    ['the upstream lost it (400 previous_response_not_found)', 400 as const],
    ['the upstream answers 404', 404 as const],
  ])('falls back to the full context when %s', async (_label, status) => {
    upstream.enqueue({ fault: { type: 'unknown_previous_response', status } }, { text: 'Recovered' })
    const newInput = [userText('Again')]
    const full = [userText('Earlier'), assistantText('Earlier answer'), ...newInput]
    const result = await collectStream(
      provider().stream(
        providerRequest({ input: full, continuation: { previousResponseId: 'resp_gone', newInput } }),
      ),
    )
    expect(result.error).toBeUndefined()
    expect(result.text).toBe('Recovered')
    expect(upstream.callCount('responses')).toBe(2)
    const [lost, retried] = upstream.calls.map((call) => call.body as SentBody)
    expect(lost?.previous_response_id).toBe('resp_gone')
    expect(retried?.previous_response_id).toBeUndefined()
    expect(retried?.input).toHaveLength(3)
  })

  it('falls back when the upstream forgot a response it had stored', async () => {
    const p = provider()
    upstream.enqueue({ text: 'Stored' })
    const first = await collectStream(p.stream(providerRequest()))
    const done = first.events.at(-1)
    upstream.forgetResponses()
    upstream.enqueue({ text: 'Full context' })
    const newInput = [userText('Next')]
    const result = await collectStream(
      p.stream(
        providerRequest({
          input: [userText('Hello there'), assistantText('Stored'), ...newInput],
          continuation: {
            previousResponseId: done?.type === 'done' ? (done.upstreamResponseId as string) : '',
            newInput,
          },
        }),
      ),
    )
    expect(result.text).toBe('Full context')
    expect(upstream.callCount('responses')).toBe(3)
    expect(lastBody().input).toHaveLength(3)
  })

  it('without native state sends the full context and stores nothing upstream', async () => {
    upstream.enqueue({ text: 'Stateless' })
    const p = provider({ nativeState: false })
    expect(p.capabilities.nativeState).toBe(false)
    const newInput = [userText('Next')]
    await collectStream(
      p.stream(
        providerRequest({
          input: [userText('Before'), ...newInput],
          continuation: { previousResponseId: 'resp_x', newInput },
        }),
      ),
    )
    expect(lastBody().store).toBe(false)
    expect(lastBody().previous_response_id).toBeUndefined()
    expect(lastBody().input).toHaveLength(2)
    expect(upstream.storedResponseIds()).toEqual([])
  })

  it('reports a reply cut by max_output_tokens as finishReason length', async () => {
    upstream.enqueue({ text: 'Cut short', truncated: true })
    const result = await collectStream(provider().stream(providerRequest({ maxOutputTokens: 2 })))
    expect(result.text).toBe('Cut short')
    expect(result.events.at(-1)).toMatchObject({ type: 'done', finishReason: 'length' })
    expect(upstream.lastCall('responses')?.body).toMatchObject({ max_output_tokens: 2 })
  })

  it('produces responses the real SDK can retrieve by id', async () => {
    upstream.enqueue({ text: 'Keep me' })
    const result = await collectStream(provider().stream(providerRequest()))
    const done = result.events.at(-1)
    const client = new OpenAI({ apiKey: API_KEY, baseURL: upstream.url, maxRetries: 0 })
    const stored = await client.responses.retrieve(
      done?.type === 'done' ? (done.upstreamResponseId as string) : '',
    )
    expect(stored.output_text).toBe('Keep me')
    expect(stored.status).toBe('completed')
  })
})
