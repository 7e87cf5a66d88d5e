import type { ItemBody, ProviderEvent } from '@parley/core'
import { assistantText, userText } from '@parley/core'
import fc from 'fast-check'
import OpenAI from 'openai'
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions/completions'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type FakeUpstream, startFakeUpstream } from '../src/fake-upstream/index.ts'
import {
  chatMessagesToItems,
  itemsToChatMessages,
  OpenAIChatProvider,
  OpenAIResponsesProvider,
  responsesOutputToItems,
} from '../src/index.ts'
import { collectStream } from '../src/testing/index.ts'
import { CALCULATOR_TOOL, functionCall, functionOutput, providerRequest } from './helpers.ts'

/**
 * items → provider request → provider response → items: a conversation with tool calls keeps
 * its roles, texts, call ids, names, arguments and outputs through both adapters.
 */

let upstream: FakeUpstream
beforeAll(async () => {
  upstream = await startFakeUpstream()
})
afterAll(async () => {
  await upstream.stop()
})
beforeEach(() => upstream.reset())

const conversation: ItemBody[] = [
  {
    type: 'message',
    role: 'developer',
    status: 'completed',
    content: [{ type: 'input_text', text: 'Use tools.' }],
  },
  userText('What is 2+3, and then 4*5?'),
  assistantText('Let me compute both.'),
  functionCall('call_a', 'calculator', { expression: '2+3' }),
  functionCall('call_b', 'calculator', { expression: '4*5' }),
  functionOutput('call_a', '5'),
  functionOutput('call_b', '20'),
  assistantText('2+3 is 5 and 4*5 is 20.'),
  userText('And 6/3?'),
]

/** What an orchestrator stores from a step's events: the text as one message, then the calls. */
function itemsFromEvents(events: ProviderEvent[]): ItemBody[] {
  const items: ItemBody[] = []
  const text = events.map((e) => (e.type === 'text.delta' ? e.delta : '')).join('')
  if (text) items.push(assistantText(text))
  for (const event of events) {
    if (event.type === 'tool_call') {
      items.push({
        type: 'function_call',
        call_id: event.callId,
        name: event.name,
        arguments: event.arguments,
        status: 'completed',
      })
    }
  }
  return items
}

function sentInput(): Record<string, unknown>[] {
  const body = upstream.lastCall('responses')?.body as { input: Record<string, unknown>[] } | undefined
  return body?.input ?? []
}

function sentMessages(): ChatCompletionMessageParam[] {
  const body = upstream.lastCall('chat.completions')?.body as
    | { messages: ChatCompletionMessageParam[] }
    | undefined
  return body?.messages ?? []
}

const reply = {
  text: 'Computing.',
  toolCalls: [{ name: 'calculator', arguments: { expression: '6/3' }, callId: 'call_c' }],
}

describe('round trip through openai-responses', () => {
  it('sends every item with its call ids and turns the response back into the same items', async () => {
    upstream.enqueue(reply)
    const provider = new OpenAIResponsesProvider({ apiKey: 'k', baseURL: upstream.url, nativeState: false })
    const result = await collectStream(
      provider.stream(providerRequest({ input: conversation, tools: [CALCULATOR_TOOL] })),
    )

    const sent = sentInput()
    expect(sent.map((item) => item['type'])).toEqual(conversation.map((item) => item.type))
    expect(sent.filter((item) => 'call_id' in item).map((item) => item['call_id'])).toEqual([
      'call_a',
      'call_b',
      'call_a',
      'call_b',
    ])
    expect(sent[0]).toEqual({
      type: 'message',
      role: 'developer',
      content: [{ type: 'input_text', text: 'Use tools.' }],
    })
    expect(sent[2]).toEqual({ type: 'message', role: 'assistant', content: 'Let me compute both.' })

    const produced = itemsFromEvents(result.events)
    expect(produced).toEqual([
      assistantText('Computing.'),
      functionCall('call_c', 'calculator', { expression: '6/3' }),
    ])
    // Without native state nothing is kept upstream.
    expect(upstream.storedResponseIds()).toEqual([])

    // Continuing the conversation sends the produced items back unchanged.
    upstream.enqueue({ text: '6/3 is 2.' })
    const next = [...conversation, ...produced, functionOutput('call_c', '2')]
    const final = await collectStream(
      provider.stream(providerRequest({ input: next, tools: [CALCULATOR_TOOL] })),
    )
    expect(final.text).toBe('6/3 is 2.')
    const resent = sentInput()
    expect(resent.slice(-2)).toEqual([
      { type: 'function_call', call_id: 'call_c', name: 'calculator', arguments: '{"expression":"6/3"}' },
      { type: 'function_call_output', call_id: 'call_c', output: '2' },
    ])
    expect(upstream.callCount()).toBe(2)
  })

  it('maps a stored upstream response to the items its events produced', async () => {
    upstream.enqueue(reply)
    const provider = new OpenAIResponsesProvider({ apiKey: 'k', baseURL: upstream.url })
    const result = await collectStream(
      provider.stream(providerRequest({ input: conversation, tools: [CALCULATOR_TOOL] })),
    )
    const done = result.events.at(-1)
    const client = new OpenAI({ apiKey: 'k', baseURL: upstream.url, maxRetries: 0 })
    const stored = await client.responses.retrieve(
      done?.type === 'done' ? (done.upstreamResponseId ?? '') : '',
    )
    expect(responsesOutputToItems(stored.output)).toEqual(itemsFromEvents(result.events))
  })
})

describe('round trip through openai-chat', () => {
  it('merges consecutive calls into one assistant message and maps everything back', async () => {
    upstream.enqueue(reply)
    const provider = new OpenAIChatProvider({
      apiKey: 'k',
      baseURL: upstream.url,
      developerRole: 'developer',
    })
    const result = await collectStream(
      provider.stream(providerRequest({ input: conversation, tools: [CALCULATOR_TOOL] })),
    )

    const messages = sentMessages()
    expect(messages.map((m) => m.role)).toEqual([
      'developer',
      'user',
      'assistant',
      'tool',
      'tool',
      'assistant',
      'user',
    ])
    expect(chatMessagesToItems(messages)).toEqual(conversation)

    const produced = itemsFromEvents(result.events)
    expect(produced).toEqual([
      assistantText('Computing.'),
      functionCall('call_c', 'calculator', { expression: '6/3' }),
    ])

    upstream.enqueue({ text: 'Two.' })
    const next = [...conversation, ...produced, functionOutput('call_c', '2')]
    await collectStream(provider.stream(providerRequest({ input: next, tools: [CALCULATOR_TOOL] })))
    const resent = sentMessages()
    expect(chatMessagesToItems(resent)).toEqual(next)
    expect(upstream.callCount()).toBe(2)
  })

  it('drops reasoning items and sends developer as system to other servers', () => {
    const messages = itemsToChatMessages(
      null,
      [
        { type: 'reasoning', summary: [{ type: 'summary_text', text: 'hidden' }], encrypted_content: null },
        ...conversation,
      ],
      { developerRole: 'system' },
    )
    expect(messages[0]).toEqual({ role: 'system', content: 'Use tools.' })
    expect(JSON.stringify(messages)).not.toContain('hidden')
  })

  it('keeps any conversation of text turns and tool rounds intact (property)', () => {
    const text = fc.string({ minLength: 1, maxLength: 20 })
    const round = fc.record({
      user: text,
      before: fc.option(text, { nil: undefined }),
      calls: fc.array(fc.record({ name: fc.constantFrom('calculator', 'clock'), output: text }), {
        minLength: 0,
        maxLength: 3,
      }),
      after: text,
    })
    fc.assert(
      fc.property(fc.array(round, { minLength: 1, maxLength: 4 }), (rounds) => {
        const items: ItemBody[] = []
        let n = 0
        for (const r of rounds) {
          items.push(userText(r.user))
          if (r.before !== undefined) items.push(assistantText(r.before))
          const ids = r.calls.map(() => {
            n += 1
            return `call_${n}`
          })
          for (const [i, call] of r.calls.entries()) items.push(functionCall(ids[i] ?? '', call.name, { i }))
          for (const [i, call] of r.calls.entries()) items.push(functionOutput(ids[i] ?? '', call.output))
          items.push(assistantText(r.after))
        }
        expect(chatMessagesToItems(itemsToChatMessages(null, items))).toEqual(items)
      }),
    )
  })
})
