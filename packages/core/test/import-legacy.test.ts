import { describe, expect, it } from 'vitest'
import {
  messageText,
  ParleyError,
  parseImportFile,
  parseLegacyChatFile,
  ValidationError,
} from '../src/index.ts'

const NOW = new Date('2026-01-01T00:00:00Z')

function legacyFile() {
  return {
    conv_a: {
      data: { id: 'conv_a', created_at: 1_700_000_000, metadata: {}, object: 'conversation' },
      chat_name: 'Trip planning',
      last_update: 1_700_000_300,
      messages: [
        { role: 'user', text: 'Where should I go?', timestamp: 1_700_000_100, response_id: null },
        { role: 'assistant', text: 'Lisbon.', timestamp: 1_700_000_110, response_id: 'resp_1' },
        { role: 'user', text: 'When?', timestamp: 1_700_000_200, response_id: null },
        { role: 'assistant', text: 'In May.', timestamp: 1_700_000_210, response_id: 'resp_2' },
        { role: 'assistant', text: 'Or September.', timestamp: 1_700_000_220, response_id: 'resp_3' },
      ],
      last_response_id: 'resp_3',
    },
    thread_b: {
      chat_name: '',
      last_update: '2024-05-01T10:00:00Z',
      messages: [],
      last_response_id: null,
    },
  }
}

function caught(run: () => unknown): ValidationError {
  try {
    run()
  } catch (error) {
    if (error instanceof ValidationError) return error
    throw error
  }
  throw new Error('expected a ValidationError')
}

describe('parseLegacyChatFile', () => {
  it('turns each conversation into turns of user input and assistant output', () => {
    const [trip, empty] = parseLegacyChatFile(legacyFile(), { now: NOW })
    expect(trip?.externalId).toBe('legacy:conv_a')
    expect(trip?.title).toBe('Trip planning')
    expect(trip?.metadata).toEqual({
      source: 'legacy',
      externalId: 'legacy:conv_a',
      legacyLastResponseId: 'resp_3',
    })
    expect(trip?.createdAt.toISOString()).toBe(new Date(1_700_000_000_000).toISOString())
    expect(trip?.updatedAt.toISOString()).toBe(new Date(1_700_000_300_000).toISOString())
    expect(trip?.turns.map((turn) => [turn.input.map(messageText), turn.output.map(messageText)])).toEqual([
      [['Where should I go?'], ['Lisbon.']],
      [['When?'], ['In May.', 'Or September.']],
    ])
    expect(trip?.turns[1]?.createdAt.toISOString()).toBe(new Date(1_700_000_200_000).toISOString())
    expect(trip?.turns[0]?.input[0]).toMatchObject({ type: 'message', role: 'user' })
    expect(trip?.turns[0]?.output[0]).toMatchObject({ type: 'message', role: 'assistant' })
    expect(trip?.turns[0]?.model).toBe('legacy')

    expect(empty?.externalId).toBe('legacy:thread_b')
    expect(empty?.title).toBe('Imported chat')
    expect(empty?.turns).toEqual([])
    expect(empty?.updatedAt.toISOString()).toBe('2024-05-01T10:00:00.000Z')
  })

  it('keeps a greeting before the first user message and history without any user message', () => {
    const [greeted, monologue] = parseLegacyChatFile(
      {
        g: {
          chat_name: 'Greeting',
          messages: [
            { role: 'assistant', text: 'Hi! How can I help?', timestamp: 10 },
            { role: 'user', text: 'Hello', timestamp: 11 },
            { role: 'user', text: 'Are you there?', timestamp: 12 },
            { role: 'assistant', text: 'Yes.', timestamp: 13 },
          ],
        },
        m: { chat_name: 'Monologue', messages: [{ role: 'assistant', text: 'Only me', timestamp: 5 }] },
      },
      { now: NOW },
    )
    expect(greeted?.turns).toHaveLength(1)
    expect(greeted?.turns[0]?.input.map(messageText)).toEqual([
      'Hi! How can I help?',
      'Hello',
      'Are you there?',
    ])
    expect(greeted?.turns[0]?.createdAt.getTime()).toBe(10_000)
    expect(monologue?.turns).toHaveLength(1)
    expect(monologue?.turns[0]?.input.map(messageText)).toEqual(['Only me'])
    expect(monologue?.turns[0]?.output).toEqual([])
  })

  it('skips empty messages and roles the old app never wrote, and repairs characters Postgres refuses', () => {
    const [conversation] = parseLegacyChatFile(
      {
        c: {
          chat_name: 'Odd\u0000 one',
          messages: [
            { role: 'system', text: 'You are helpful', timestamp: 1 },
            { role: 'user', text: '   ', timestamp: 2 },
            { role: 'user', text: 'nul\u0000here and a lone \uD800 surrogate', timestamp: 3 },
            { role: 'assistant', text: 'ok 😀', timestamp: 4 },
          ],
        },
      },
      { now: NOW },
    )
    expect(conversation?.title).toBe('Odd one')
    expect(conversation?.turns).toHaveLength(1)
    expect(messageText(conversation!.turns[0]!.input[0]!)).toBe('nulhere and a lone \uFFFD surrogate')
    expect(messageText(conversation!.turns[0]!.output[0]!)).toBe('ok 😀')
  })

  it('accepts epoch milliseconds and ISO strings, and falls back to now without any date', () => {
    const [ms, iso, none] = parseLegacyChatFile(
      {
        ms: { messages: [{ role: 'user', text: 'a', timestamp: 1_700_000_000_123 }] },
        iso: { messages: [{ role: 'user', text: 'b', timestamp: '2025-03-04T05:06:07.000Z' }] },
        none: { messages: [{ role: 'user', text: 'c' }] },
      },
      { now: NOW },
    )
    expect(ms?.createdAt.getTime()).toBe(1_700_000_000_123)
    expect(iso?.createdAt.toISOString()).toBe('2025-03-04T05:06:07.000Z')
    expect(none?.createdAt).toEqual(NOW)
    expect(none?.updatedAt).toEqual(NOW)
  })

  it('splits a message longer than one content part and refuses one longer than a message holds', () => {
    const [split] = parseLegacyChatFile(
      { s: { messages: [{ role: 'user', text: 'x'.repeat(25), timestamp: 1 }] } },
      { now: NOW, maxPartChars: 10 },
    )
    const item = split!.turns[0]!.input[0]!
    expect(item.type === 'message' && item.content.map((part) => part.type)).toEqual([
      'input_text',
      'input_text',
      'input_text',
    ])
    expect(messageText(item)).toBe('x'.repeat(25))

    const error = caught(() =>
      parseLegacyChatFile(
        { s: { messages: [{ role: 'assistant', text: 'y'.repeat(65 * 10), timestamp: 1 }] } },
        { now: NOW, maxPartChars: 10 },
      ),
    )
    expect(error.issues[0]?.path).toBe('s.messages.0')
    expect(error.message).toMatch(/too long/)
  })

  it('never splits a surrogate pair across content parts', () => {
    const [conversation] = parseLegacyChatFile(
      { s: { messages: [{ role: 'user', text: `${'a'.repeat(9)}😀b`, timestamp: 1 }] } },
      { now: NOW, maxPartChars: 10 },
    )
    const item = conversation!.turns[0]!.input[0]!
    expect(item.type === 'message' && item.content.map((part) => ('text' in part ? part.text : ''))).toEqual([
      'a'.repeat(9),
      '😀b',
    ])
  })

  it('splits a run of user messages longer than a turn takes, and refuses what no store would take', () => {
    const many = Array.from({ length: 300 }, (_, index) => ({
      role: 'user',
      text: `m${index}`,
      timestamp: index,
    }))
    const [conversation] = parseImportFile(
      JSON.stringify({ c: { messages: [...many, { role: 'assistant', text: 'ok' }] } }),
      {
        now: NOW,
      },
    ).conversations
    expect(conversation?.turns.map((turn) => [turn.input.length, turn.output.length])).toEqual([
      [256, 0],
      [44, 1],
    ])

    const greetings = Array.from({ length: 300 }, () => ({ role: 'assistant', text: 'hello?' }))
    const error = caught(() =>
      parseImportFile(JSON.stringify({ c: { messages: [...greetings, { role: 'user', text: 'hi' }] } })),
    )
    expect(error.issues[0]?.path).toBe('0.turns.0.input')
    expect(error.message).toMatch(/^Invalid import: conversation 0\.turns\.0\.input: /)
  })

  it('truncates titles to the title limit', () => {
    const [conversation] = parseLegacyChatFile(
      { t: { chat_name: 'T'.repeat(600), messages: [] } },
      { now: NOW },
    )
    expect(conversation?.title).toHaveLength(512)
    expect(conversation?.title.endsWith('…')).toBe(true)
  })

  it('rejects a file that is not an object of conversations', () => {
    for (const value of [[], 'text', null, 42]) {
      const error = caught(() => parseLegacyChatFile(value))
      expect(error).toBeInstanceOf(ParleyError)
      expect(error.reason).toBe('validation')
      expect(error.message).toMatch(/^Invalid legacy chat file: expected a JSON object/)
    }
  })

  it('reports every problem of a corrupt file by path, and returns nothing', () => {
    const file = legacyFile() as Record<string, unknown>
    file['broken'] = {
      chat_name: 7,
      last_update: 'yesterday',
      messages: [{ role: 'user', text: 12 }, 'not a message', { text: 'no role' }],
    }
    file['worse'] = { chat_name: 'x', messages: { 0: 'not an array' } }
    file['scalar'] = 'no'
    const error = caught(() => parseLegacyChatFile(file))
    expect(error.issues.map((issue) => issue.path)).toEqual([
      'broken.chat_name',
      'broken.last_update',
      'broken.messages.0.text',
      'broken.messages.1',
      'broken.messages.2.role',
      'worse.messages',
      'scalar',
    ])
    expect(error.message).toBe('Invalid legacy chat file: broken.chat_name: expected a string (and 6 more)')
  })

  it('bounds the issues it lists for a badly broken file', () => {
    const messages = Array.from({ length: 500 }, () => ({ role: 'user', text: 1 }))
    const error = caught(() => parseLegacyChatFile({ c: { messages } }))
    expect(error.issues).toHaveLength(50)
    expect(error.message).toMatch(/\(and 499 more\)$/)
  })
})
