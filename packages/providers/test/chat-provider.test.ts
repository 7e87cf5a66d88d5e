import { assistantText, userText } from '@parley/core'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type FakeUpstream, startFakeUpstream } from '../src/fake-upstream/index.ts'
import { OpenAIChatProvider } from '../src/index.ts'
import { collectStream } from '../src/testing/index.ts'
import {
  CALCULATOR_TOOL,
  CLOCK_TOOL,
  FAST_RETRY,
  functionCall,
  functionOutput,
  providerRequest,
} from './helpers.ts'

let upstream: FakeUpstream

beforeAll(async () => {
  upstream = await startFakeUpstream()
})
afterAll(async () => {
  await upstream.stop()
})
beforeEach(() => upstream.reset())

function provider(options: { stream?: boolean; developerRole?: 'developer' | 'system' } = {}) {
  return new OpenAIChatProvider({ apiKey: 'sk-chat', baseURL: upstream.url, retry: FAST_RETRY, ...options })
}

interface ChatBody {
  messages: Record<string, unknown>[]
  stream?: boolean
  stream_options?: { include_usage?: boolean }
  tools?: unknown[]
  tool_choice?: unknown
  max_tokens?: number
}

function lastBody(): ChatBody {
  return upstream.lastCall('chat.completions')?.body as ChatBody
}

describe('openai-chat adapter', () => {
  it('streams plain text with usage from the include_usage chunk', async () => {
    upstream.enqueue({ text: 'Hi from chat', usage: { inputTokens: 8, cachedTokens: 2 } })
    const p = provider()
    expect(p.capabilities.nativeState).toBe(false)
    const result = await collectStream(
      p.stream(providerRequest({ instructions: 'Be kind', maxOutputTokens: 64, temperature: 0.2 })),
    )
    expect(result.error).toBeUndefined()
    expect(result.text).toBe('Hi from chat')
    expect(result.events.map((e) => e.type)).toEqual([
      'started',
      'text.delta',
      'text.delta',
      'text.delta',
      'usage',
      'done',
    ])
    expect(result.events.find((e) => e.type === 'usage')).toMatchObject({
      usage: { inputTokens: 8, outputTokens: 3, totalTokens: 11, cachedInputTokens: 2 },
    })
    expect(result.events.at(-1)).toEqual({ type: 'done', upstreamResponseId: null, finishReason: 'stop' })
    const body = lastBody()
    expect(body.stream).toBe(true)
    expect(body.stream_options).toEqual({ include_usage: true })
    // A custom base URL is assumed to be a compatible server: the widely known field.
    expect(body.max_tokens).toBe(64)
    expect(body.messages).toEqual([
      { role: 'system', content: 'Be kind' },
      { role: 'user', content: 'Hello there' },
    ])
    expect(upstream.callCount('chat.completions')).toBe(1)
  })

  it('answers without streaming when asked', async () => {
    upstream.enqueue({ text: 'Whole reply', usage: { inputTokens: 4 } })
    const result = await collectStream(provider({ stream: false }).stream(providerRequest()))
    expect(result.text).toBe('Whole reply')
    expect(result.events.map((e) => e.type)).toEqual(['started', 'text.delta', 'usage', 'done'])
    expect(lastBody().stream).toBe(false)
  })

  it('assembles streamed tool calls by index and sends results back as tool messages', async () => {
    upstream.enqueue(
      {
        text: 'Let me check.',
        toolCalls: [
          { name: 'calculator', arguments: { expression: '1+1' }, callId: 'call_one', argumentChunks: 5 },
          { name: 'clock', arguments: {}, callId: 'call_two' },
        ],
      },
      { text: 'It is noon and 1+1 is 2.' },
    )
    const tools = [CALCULATOR_TOOL, CLOCK_TOOL]
    const input = [userText('Time and 1+1?')]
    const first = await collectStream(
      provider().stream(providerRequest({ input, tools, toolChoice: 'required' })),
    )
    expect(first.text).toBe('Let me check.')
    expect(first.toolCalls).toEqual([
      { type: 'tool_call', callId: 'call_one', name: 'calculator', arguments: '{"expression":"1+1"}' },
      { type: 'tool_call', callId: 'call_two', name: 'clock', arguments: '{}' },
    ])
    expect(first.events.at(-1)).toMatchObject({ type: 'done', finishReason: 'tool_calls' })
    expect(lastBody().tool_choice).toBe('required')
    expect(lastBody().tools).toEqual([
      {
        type: 'function',
        function: {
          name: 'calculator',
          description: CALCULATOR_TOOL.description,
          parameters: CALCULATOR_TOOL.parameters,
          strict: true,
        },
      },
      {
        type: 'function',
        function: {
          name: 'clock',
          description: CLOCK_TOOL.description,
          parameters: CLOCK_TOOL.parameters,
          strict: true,
        },
      },
    ])

    const second = await collectStream(
      provider().stream(
        providerRequest({
          input: [
            ...input,
            assistantText('Let me check.'),
            functionCall('call_one', 'calculator', { expression: '1+1' }),
            functionCall('call_two', 'clock', {}),
            functionOutput('call_one', '2'),
            functionOutput('call_two', '12:00'),
          ],
          tools,
        }),
      ),
    )
    expect(second.text).toBe('It is noon and 1+1 is 2.')
    expect(lastBody().messages).toEqual([
      { role: 'user', content: 'Time and 1+1?' },
      {
        role: 'assistant',
        content: 'Let me check.',
        tool_calls: [
          {
            id: 'call_one',
            type: 'function',
            function: { name: 'calculator', arguments: '{"expression":"1+1"}' },
          },
          { id: 'call_two', type: 'function', function: { name: 'clock', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_one', content: '2' },
      { role: 'tool', tool_call_id: 'call_two', content: '12:00' },
    ])
    expect(upstream.callCount('chat.completions')).toBe(2)
  })

  it('reports a reply cut by the token limit as finishReason length', async () => {
    upstream.enqueue({ text: 'Cut', truncated: true })
    const result = await collectStream(provider().stream(providerRequest()))
    expect(result.events.at(-1)).toMatchObject({ type: 'done', finishReason: 'length' })
  })

  it('ends promptly with an AbortError when aborted mid-stream', async () => {
    upstream.enqueue({ text: Array.from({ length: 40 }, (_, i) => `t${i}`).join(' '), delayMs: 25 })
    const controller = new AbortController()
    const deltas: string[] = []
    let caught: unknown
    const started = performance.now()
    try {
      for await (const event of provider().stream(providerRequest({ signal: controller.signal }))) {
        if (event.type === 'text.delta') {
          deltas.push(event.delta)
          if (deltas.length === 2) controller.abort()
        }
      }
    } catch (error) {
      caught = error
    }
    expect((caught as Error).name).toBe('AbortError')
    expect(deltas).toEqual(['t0', ' t1'])
    expect(performance.now() - started).toBeLessThan(800)
    expect(upstream.callCount()).toBe(1)
  })
})
