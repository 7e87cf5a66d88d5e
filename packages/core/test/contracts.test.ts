import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import {
  Conversation,
  CreateConversationInput,
  EditInput,
  InputItems,
  Item,
  ItemBody,
  jsonProblem,
  LastEventId,
  LIMITS,
  Metadata,
  PageInput,
  parseEventId,
  parseInput,
  RegenerateInput,
  SendInput,
  shortened,
  Turn,
  TurnEvent,
  TurnSettings,
  textProblem,
  UpdateConversationInput,
  Usage,
  UsageTotal,
  ValidationError,
} from '../src/index.ts'

const now = '2026-11-23T01:00:00.000Z'
const conversation = {
  id: 'conv_abcdefgh12345678',
  title: 'Trip plans',
  metadata: { project: 'alpha' },
  headTurnId: null,
  createdAt: now,
  updatedAt: now,
}
const usage = {
  inputTokens: 10,
  outputTokens: 5,
  totalTokens: 15,
  cachedInputTokens: 0,
  reasoningTokens: 0,
  estimated: false,
}
const turn = {
  id: 'resp_abcdefgh12345678',
  conversationId: conversation.id,
  parentTurnId: null,
  requestId: 'req-1',
  status: 'completed',
  provider: 'scripted',
  model: 'parley-demo',
  instructions: null,
  settings: TurnSettings.parse({}),
  usage,
  error: null,
  upstreamResponseId: null,
  truncated: false,
  createdAt: now,
  completedAt: now,
}
const message = {
  type: 'message',
  role: 'user',
  status: 'completed',
  content: [{ type: 'input_text', text: 'hello' }],
}
const call = {
  type: 'function_call',
  call_id: 'call_1',
  name: 'calculator',
  arguments: '{"expression":"1+1"}',
  status: 'completed',
}
const callOutput = { type: 'function_call_output', call_id: 'call_1', output: '2', status: 'completed' }
const reasoning = {
  type: 'reasoning',
  summary: [{ type: 'summary_text', text: 'thinking' }],
  encrypted_content: null,
}
const stored = {
  id: 'item_abcdefgh12345678',
  conversationId: conversation.id,
  turnId: turn.id,
  seq: 1,
  side: 'input',
  tokenCount: 2,
  createdAt: now,
}

/** Every schema with a valid value: parsing it gives the value back, and it survives JSON. */
const valid: [string, z.ZodType, unknown][] = [
  ['Conversation', Conversation, conversation],
  ['CreateConversationInput', CreateConversationInput, { title: 'x', metadata: { a: 'b' } }],
  ['UpdateConversationInput', UpdateConversationInput, { id: conversation.id, title: 'renamed' }],
  ['Metadata', Metadata, { a: 'b' }],
  ['PageInput', PageInput, { cursor: 'abc', limit: 10 }],
  ['ItemBody message', ItemBody, message],
  ['ItemBody function_call', ItemBody, call],
  ['ItemBody function_call_output', ItemBody, { ...callOutput, is_error: true, duration_ms: 12 }],
  ['ItemBody reasoning', ItemBody, reasoning],
  [
    'ItemBody assistant',
    ItemBody,
    {
      type: 'message',
      role: 'assistant',
      status: 'completed',
      content: [{ type: 'output_text', text: 'hi', annotations: [] }],
    },
  ],
  ['Item', Item, { ...message, ...stored }],
  ['InputItems', InputItems, [message, callOutput]],
  ['Usage', Usage, usage],
  [
    'UsageTotal',
    UsageTotal,
    { day: '2026-11-23', model: 'm', turns: 1, inputTokens: 1, outputTokens: 1, totalTokens: 2 },
  ],
  ['Turn', Turn, turn],
  [
    'TurnSettings',
    TurnSettings,
    TurnSettings.parse({ temperature: 0.5, tools: [{ type: 'function', name: 'lookup' }] }),
  ],
  ['SendInput text', SendInput, { requestId: 'r1', conversationId: conversation.id, input: 'hello' }],
  ['SendInput items', SendInput, { requestId: 'r1', conversationId: conversation.id, input: [message] }],
  ['RegenerateInput', RegenerateInput, { requestId: 'r2', turnId: turn.id }],
  ['EditInput', EditInput, { requestId: 'r3', turnId: turn.id, input: 'edited' }],
  ['LastEventId', LastEventId, `${turn.id}:12`],
  [
    'TurnEvent started',
    TurnEvent,
    { type: 'turn.started', turn, id: `${turn.id}:1`, turnId: turn.id, seq: 1 },
  ],
  [
    'TurnEvent delta',
    TurnEvent,
    { type: 'text.delta', itemId: stored.id, delta: 'he', id: `${turn.id}:2`, turnId: turn.id, seq: 2 },
  ],
  [
    'TurnEvent tool.call',
    TurnEvent,
    {
      type: 'tool.call',
      itemId: stored.id,
      callId: 'c',
      name: 'n',
      arguments: '{}',
      executor: 'server',
      id: `${turn.id}:3`,
      turnId: turn.id,
      seq: 3,
    },
  ],
  [
    'TurnEvent tool.result',
    TurnEvent,
    {
      type: 'tool.result',
      itemId: stored.id,
      callId: 'c',
      name: 'n',
      output: '2',
      isError: false,
      durationMs: 3,
      id: `${turn.id}:4`,
      turnId: turn.id,
      seq: 4,
    },
  ],
  ['TurnEvent usage', TurnEvent, { type: 'usage', usage, id: `${turn.id}:5`, turnId: turn.id, seq: 5 }],
  [
    'TurnEvent completed',
    TurnEvent,
    {
      type: 'turn.completed',
      turn,
      output: [{ ...call, id: stored.id }],
      id: `${turn.id}:6`,
      turnId: turn.id,
      seq: 6,
    },
  ],
  [
    'TurnEvent failed',
    TurnEvent,
    {
      type: 'turn.failed',
      turn,
      error: { reason: 'stream_broken', message: 'x' },
      output: [],
      id: `${turn.id}:7`,
      turnId: turn.id,
      seq: 7,
    },
  ],
]

describe('contracts: valid data round-trips', () => {
  it.each(valid)('%s', (_name, schema, value) => {
    const parsed = schema.parse(value)
    expect(parsed).toEqual(value)
    expect(schema.parse(JSON.parse(JSON.stringify(parsed)))).toEqual(value)
  })

  it('fills documented defaults', () => {
    expect(
      ItemBody.parse({ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'x' }] }),
    ).toMatchObject({
      status: 'completed',
    })
    expect(PageInput.parse({})).toEqual({ limit: LIMITS.defaultPageSize })
    expect(TurnSettings.parse({})).toMatchObject({ toolChoice: 'auto', tools: [], store: true, metadata: {} })
  })
})

/** Objects inside objects, the innermost `depth` levels below the outermost. */
function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = {}
  for (let level = 0; level < depth; level++) value = { child: value }
  return value
}

function fieldOf(schema: z.ZodType, value: unknown): { path: string; message: string } {
  try {
    parseInput(schema, value)
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError)
    const issue = (error as ValidationError).issues[0]
    if (!issue) throw new Error('no issue reported')
    expect((error as ValidationError).reason).toBe('validation')
    expect((error as ValidationError).status).toBe(400)
    return issue
  }
  throw new Error('expected a validation error')
}

const send = { requestId: 'r1', conversationId: conversation.id }
const withText = (text: string) => ({
  ...send,
  input: [{ ...message, content: [{ type: 'input_text', text }] }],
})

describe('contracts: bad input is a typed validation error naming the field', () => {
  it.each([
    ['a wrong type', SendInput, { ...send, input: 42 }, 'input'],
    [
      'a wrong type in an item',
      SendInput,
      { ...send, input: [{ ...message, content: 'hi' }] },
      'input.0.content',
    ],
    [
      'an oversize string',
      SendInput,
      withText('x'.repeat(LIMITS.maxTextChars + 1)),
      'input.0.content.0.text',
    ],
    ['too many items', SendInput, { ...send, input: Array(LIMITS.maxInputItems + 1).fill(message) }, 'input'],
    ['a NUL character', SendInput, withText('a\u0000b'), 'input.0.content.0.text'],
    ['a lone high surrogate', SendInput, withText('a\uD800b'), 'input.0.content.0.text'],
    ['a lone low surrogate', SendInput, withText('\uDC00'), 'input.0.content.0.text'],
    ['an unknown role', SendInput, { ...send, input: [{ ...message, role: 'wizard' }] }, 'input.0.role'],
    ['an unknown item type', SendInput, { ...send, input: [{ type: 'magic' }] }, 'input.0.type'],
    [
      'a malformed conversation id',
      SendInput,
      { ...send, conversationId: "'; drop table users;--", input: 'x' },
      'conversationId',
    ],
    ['a request id with spaces', SendInput, { ...send, requestId: 'a b', input: 'x' }, 'requestId'],
    ['an empty text input', SendInput, { ...send, input: '' }, 'input'],
    ['an oversize title', CreateConversationInput, { title: 'x'.repeat(LIMITS.maxTitleChars + 1) }, 'title'],
    ['a NUL in a title', UpdateConversationInput, { id: conversation.id, title: '\u0000' }, 'title'],
    [
      'too many metadata keys',
      CreateConversationInput,
      { metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) },
      'metadata',
    ],
    [
      'a NUL in a metadata key',
      CreateConversationInput,
      { metadata: { 'a\u0000': 'v' } },
      'metadata.a\\u0000',
    ],
    ['a negative page size', PageInput, { limit: -1 }, 'limit'],
    ['a huge page size', PageInput, { limit: 1_000_000 }, 'limit'],
    ['a bad tool name', ItemBody, { ...call, name: 'rm -rf' }, 'name'],
    ['a temperature out of range', TurnSettings, { temperature: 7 }, 'temperature'],
    [
      'too many tools',
      TurnSettings,
      { tools: Array(LIMITS.maxToolsPerRequest + 1).fill({ type: 'function', name: 't' }) },
      'tools',
    ],
    [
      'a tool schema nested deeper than the limit',
      TurnSettings,
      { tools: [{ type: 'function', name: 't', parameters: nested(LIMITS.maxToolSchemaDepth + 1) }] },
      'tools.0.parameters',
    ],
    [
      'a NUL in a tool schema',
      TurnSettings,
      { tools: [{ type: 'function', name: 't', parameters: { description: 'a\u0000' } }] },
      'tools.0.parameters',
    ],
    [
      'a NUL in a tool choice',
      TurnSettings,
      { toolChoice: { type: 'function', name: 'a\u0000' } },
      'toolChoice.name',
    ],
    [
      'an image that is not an http(s) or data: URL',
      ItemBody,
      { ...message, content: [{ type: 'input_image', image_url: 'file:///etc/passwd' }] },
      'content.0.image_url',
    ],
    ['a malformed event id', LastEventId, 'resp_x:abc', ''],
    ['a negative usage', Usage, { ...usage, inputTokens: -1 }, 'inputTokens'],
  ])('%s', (_name, schema, value, path) => {
    const issue = fieldOf(schema, value)
    expect(issue.path).toBe(path)
    expect(issue.message.length).toBeGreaterThan(0)
  })

  it('describes the first issue in the message', () => {
    expect(() => parseInput(SendInput, withText('\u0000'))).toThrow(
      /input\.0\.content\.0\.text: must not contain the NUL/,
    )
  })
})

describe('text helpers', () => {
  it('shortens text with an ellipsis, never between the halves of a surrogate pair', () => {
    expect(shortened('short', 10)).toBe('short')
    expect(shortened('abcdefghijk', 10)).toBe('abcdefghi…')
    expect(shortened('two words here', 5)).toBe('two…')
    // The emoji's halves sit at the 9th and 10th characters: the cut moves before it.
    const cut = shortened(`${'a'.repeat(8)}\u{1F600}tail`, 10)
    expect(cut).toBe(`${'a'.repeat(8)}…`)
    expect(textProblem(cut)).toBeNull()
    expect(shortened(`${'a'.repeat(7)}\u{1F600}tail`, 10)).toBe(`${'a'.repeat(7)}\u{1F600}…`)
  })

  it('bounds the depth of a JSON value', () => {
    expect(jsonProblem(nested(32))).toBeNull()
    expect(jsonProblem(nested(33))).toMatch(/nested too deeply \(more than 32 levels\)/)
    expect(jsonProblem(nested(5), 4)).toMatch(/more than 4 levels/)
    expect(jsonProblem({ ok: ['fine', { 'a\u0000': 1 }] })).toMatch(/NUL/)
  })

  it('accepts http, https and data: image URLs', () => {
    for (const url of ['https://example.com/a.png', 'http://127.0.0.1/a.png', 'data:image/png;base64,AAAA']) {
      expect(
        ItemBody.safeParse({ ...message, content: [{ type: 'input_image', image_url: url }] }).success,
      ).toBe(true)
    }
  })
})

describe('event ids', () => {
  it('parse "<turnId>:<seq>" and reject malformed ones', () => {
    expect(parseEventId('resp_abc12345:17')).toEqual({ turnId: 'resp_abc12345', seq: 17 })
    expect(parseEventId('resp_abc12345')).toBeNull()
    expect(parseEventId(':3')).toBeNull()
    expect(parseEventId('resp_abc12345:x')).toBeNull()
  })
})
