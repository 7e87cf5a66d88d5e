import type { ItemBody } from '@parley/core'
import { UpstreamError, userText, ValidationError } from '@parley/core'
import { describe, expect, it } from 'vitest'
import { createProvider } from '../src/index.ts'
import { demoDelayFromEnv } from '../src/scripted/demo.ts'
import {
  collectStream,
  DEMO_ANNOUNCEMENT,
  errorStep,
  ScriptedModel,
  splitIntoChunks,
  textStep,
  toolCallStep,
} from '../src/testing/index.ts'
import { CALCULATOR_TOOL, CLOCK_TOOL, functionOutput, providerRequest, timed } from './helpers.ts'

const demo = () => createProvider({ kind: 'scripted', delayMs: 0 })

describe('scripted provider (demo behaviour)', () => {
  it('records the configured model as its default (PARLEY_MODEL), else parley-demo', () => {
    expect(createProvider({ kind: 'scripted', delayMs: 0, model: 'my-model' }).defaultModel).toBe('my-model')
    expect(demo().defaultModel).toBe('parley-demo')
  })

  it('echoes in several chunks, announces itself and reports usage', async () => {
    const result = await collectStream(demo().stream(providerRequest({ input: [userText('Hello demo')] })))
    expect(result.error).toBeUndefined()
    expect(result.text.startsWith(DEMO_ANNOUNCEMENT)).toBe(true)
    expect(result.text).toContain('Hello demo')
    expect(result.events.filter((e) => e.type === 'text.delta').length).toBeGreaterThan(5)
    const usage = result.events.find((e) => e.type === 'usage')
    expect(usage?.type === 'usage' && usage.usage.outputTokens).toBe(result.text.split(/\s+/).length)
    expect(usage?.type === 'usage' && usage.usage.inputTokens).toBe(2)
    expect(result.events.at(-1)).toMatchObject({ type: 'done', finishReason: 'stop' })
  })

  it('drives a full streamed tool-call turn offline: calculator call, then the answer', async () => {
    const provider = demo()
    const tools = [CALCULATOR_TOOL, CLOCK_TOOL]
    const input: ItemBody[] = [userText('Please calc: 6 * 7')]
    const step1 = await collectStream(provider.stream(providerRequest({ input, tools })))
    expect(step1.text).toBe(DEMO_ANNOUNCEMENT)
    expect(step1.toolCalls).toHaveLength(1)
    const call = step1.toolCalls[0]!
    expect(call.name).toBe('calculator')
    expect(JSON.parse(call.arguments)).toEqual({ expression: '6 * 7' })
    expect(step1.events.at(-1)).toMatchObject({ type: 'done', finishReason: 'tool_calls' })

    // The orchestrator would run the tool here and append the call and its output.
    const step2 = await collectStream(
      provider.stream(
        providerRequest({
          input: [
            ...input,
            {
              type: 'function_call',
              call_id: call.callId,
              name: call.name,
              arguments: call.arguments,
              status: 'completed',
            },
            functionOutput(call.callId, '42'),
          ],
          tools,
        }),
      ),
    )
    expect(step2.toolCalls).toEqual([])
    expect(step2.text).toBe(`${DEMO_ANNOUNCEMENT} The calculator tool returned: 42`)
    expect(step2.events.at(-1)).toMatchObject({ type: 'done', finishReason: 'stop' })
  })

  it('calls the clock when asked for the time, only if the tool is offered', async () => {
    const withClock = await collectStream(
      demo().stream(providerRequest({ input: [userText('What time is it?')], tools: [CLOCK_TOOL] })),
    )
    expect(withClock.toolCalls.map((c) => [c.name, c.arguments])).toEqual([['clock', '{}']])
    const withoutClock = await collectStream(
      demo().stream(providerRequest({ input: [userText('What time is it?')] })),
    )
    expect(withoutClock.toolCalls).toEqual([])
    expect(withoutClock.text).toContain('What time is it?')
  })

  it('[[words:N]] makes the reply exactly N words long', async () => {
    for (const n of [3, 40]) {
      const result = await collectStream(
        demo().stream(providerRequest({ input: [userText(`hi [[words:${n}]]`)] })),
      )
      expect(result.text.split(/\s+/)).toHaveLength(n)
      expect(result.text.startsWith('Parley demo')).toBe(true)
      expect(result.text).not.toContain('[[')
    }
  })

  it('[[delay:MS]] sets the per-chunk delay', async () => {
    const { value: result, ms } = await timed(() =>
      collectStream(demo().stream(providerRequest({ input: [userText('slow [[words:5]] [[delay:40]]')] }))),
    )
    expect(result.events.filter((e) => e.type === 'text.delta')).toHaveLength(5)
    expect(ms).toBeGreaterThanOrEqual(190)
  })

  it('[[fail:REASON]] throws that UpstreamError before the first event', async () => {
    const result = await collectStream(
      demo().stream(providerRequest({ input: [userText('[[fail:upstream_rate_limited]]')] })),
    )
    expect(result.events).toEqual([])
    expect(result.error).toBeInstanceOf(UpstreamError)
    expect((result.error as UpstreamError).reason).toBe('upstream_rate_limited')
  })

  it('[[break:N]] breaks the stream after N chunks', async () => {
    const result = await collectStream(
      demo().stream(providerRequest({ input: [userText('go [[break:3]]')] })),
    )
    expect(result.events.filter((e) => e.type === 'text.delta')).toHaveLength(3)
    expect((result.error as UpstreamError).reason).toBe('stream_broken')
  })

  it('ends with an AbortError when aborted between chunks', async () => {
    const controller = new AbortController()
    const provider = createProvider({ kind: 'scripted', delayMs: 20 })
    let chunks = 0
    let caught: unknown
    try {
      for await (const event of provider.stream(
        providerRequest({ input: [userText('x [[words:50]]')], signal: controller.signal }),
      )) {
        if (event.type !== 'text.delta') continue
        chunks += 1
        if (chunks === 2) controller.abort()
      }
    } catch (error) {
      caught = error
    }
    expect((caught as Error).name).toBe('AbortError')
    expect(chunks).toBe(2)
  })

  it('reads its default delay from PARLEY_SCRIPTED_DELAY_MS (15 ms when unset, 0 allowed)', () => {
    expect(demoDelayFromEnv({})).toBe(15)
    expect(demoDelayFromEnv({ PARLEY_SCRIPTED_DELAY_MS: '0' })).toBe(0)
    expect(demoDelayFromEnv({ PARLEY_SCRIPTED_DELAY_MS: '120' })).toBe(120)
    expect(demoDelayFromEnv({ PARLEY_SCRIPTED_DELAY_MS: 'fast' })).toBe(15)
  })
})

describe('ScriptedModel', () => {
  it('plays a queue of steps and records every request', async () => {
    const model = new ScriptedModel({
      steps: [toolCallStep('clock', {}, { callId: 'call_1' }), textStep('It is noon.')],
    })
    const first = await collectStream(
      model.stream(providerRequest({ input: [userText('time?')], tools: [CLOCK_TOOL] })),
    )
    expect(first.toolCalls).toEqual([{ type: 'tool_call', callId: 'call_1', name: 'clock', arguments: '{}' }])
    const second = await collectStream(
      model.stream(providerRequest({ input: [userText('time?'), functionOutput('call_1', '12:00')] })),
    )
    expect(second.text).toBe('It is noon.')
    expect(model.callCount).toBe(2)
    expect(model.requests[1]?.input).toHaveLength(2)
    expect(model.requests[0]?.tools.map((t) => t.name)).toEqual(['clock'])
    expect(model.remainingSteps).toBe(0)

    const third = await collectStream(model.stream(providerRequest()))
    expect((third.error as UpstreamError).reason).toBe('upstream_bad_request')
  })

  it('takes a function of the request, exact chunks and scripted errors', async () => {
    const model = new ScriptedModel({
      steps: (_request, index) =>
        index === 0
          ? errorStep('upstream_unavailable')
          : { chunks: ['a', 'b', 'c'], usage: { inputTokens: 99 } },
    })
    const failed = await collectStream(model.stream(providerRequest()))
    expect((failed.error as UpstreamError).reason).toBe('upstream_unavailable')
    const ok = await collectStream(model.stream(providerRequest()))
    expect(
      ok.events.filter((e) => e.type === 'text.delta').map((e) => (e.type === 'text.delta' ? e.delta : '')),
    ).toEqual(['a', 'b', 'c'])
    expect(ok.events.find((e) => e.type === 'usage')).toMatchObject({
      usage: { inputTokens: 99, outputTokens: 1 },
    })
  })

  it('splits text into chunks that join back exactly', () => {
    const text = '  Hello,  world!\nNew line '
    expect(splitIntoChunks(text).join('')).toBe(text)
    expect(splitIntoChunks(text)).toEqual(['  Hello,', '  world!', '\nNew', ' line', ' '])
  })
})

describe('createProvider', () => {
  it('builds each kind with its default model and context window', () => {
    const scripted = createProvider({ kind: 'scripted' })
    expect(scripted.name).toBe('scripted')
    expect(scripted.defaultModel).toBe('parley-demo')
    expect(scripted.contextWindow('anything')).toBe(128_000)

    const responses = createProvider({ kind: 'openai-responses', apiKey: 'sk-x' })
    expect(responses.name).toBe('openai-responses')
    expect(responses.defaultModel).toBe('gpt-4.1-mini')
    expect(responses.capabilities.nativeState).toBe(true)
    expect(responses.contextWindow('gpt-4o-2024-08-06')).toBe(128_000)
    expect(responses.contextWindow('gpt-4.1-mini')).toBe(1_047_576)
    expect(responses.contextWindow('my-own-model')).toBeNull()

    const chat = createProvider({
      kind: 'openai-chat',
      baseURL: 'http://127.0.0.1:11434/v1',
      model: 'llama3.1:8b',
    })
    expect(chat.defaultModel).toBe('llama3.1:8b')
    expect(chat.capabilities.nativeState).toBe(false)
    expect(chat.contextWindow('llama3.1:8b')).toBe(131_072)
  })

  it('refuses an OpenAI kind without a key or a base URL', () => {
    expect(() => createProvider({ kind: 'openai-responses' })).toThrow(ValidationError)
  })
})
