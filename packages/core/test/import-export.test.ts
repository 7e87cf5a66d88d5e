import { describe, expect, it } from 'vitest'
import {
  type Conversation,
  detectImportFormat,
  type ExportSource,
  formatExport,
  type Item,
  type ItemBody,
  messageText,
  parseImportFile,
  type Turn,
  ValidationError,
} from '../src/index.ts'

const AT = '2026-02-03T04:05:06.000Z'
const EXPORTED = new Date('2026-03-01T00:00:00Z')

function conversation(id: string, title: string, metadata: Record<string, string> = {}): Conversation {
  return { id, title, metadata, headTurnId: null, createdAt: AT, updatedAt: AT }
}

function turn(id: string, conversationId: string, status: Turn['status'] = 'completed'): Turn {
  return {
    id,
    conversationId,
    parentTurnId: null,
    requestId: `req-${id}`,
    status,
    provider: 'scripted',
    model: 'demo-1',
    instructions: null,
    settings: {
      temperature: null,
      topP: null,
      maxOutputTokens: null,
      toolChoice: 'auto',
      parallelToolCalls: true,
      tools: [],
      metadata: {},
      store: true,
    },
    usage: {
      inputTokens: 3,
      outputTokens: 5,
      totalTokens: 8,
      cachedInputTokens: 0,
      reasoningTokens: 0,
      estimated: true,
    },
    error: null,
    upstreamResponseId: null,
    truncated: false,
    createdAt: AT,
    completedAt: AT,
  }
}

let seq = 0
function stored(body: ItemBody, turnId: string, side: 'input' | 'output'): Item {
  seq += 1
  return {
    ...body,
    id: `item_${String(seq).padStart(8, '0')}`,
    conversationId: 'conv_aaaaaaaa',
    turnId,
    seq,
    side,
    tokenCount: 2,
    createdAt: AT,
  } as Item
}

function source(): ExportSource {
  const first = 'resp_aaaaaaaa'
  const second = 'resp_bbbbbbbb'
  return {
    conversation: conversation('conv_aaaaaaaa', 'Math & `code`', { project: 'demo' }),
    turns: [
      {
        turn: turn(first, 'conv_aaaaaaaa'),
        input: [
          stored(
            {
              type: 'message',
              role: 'user',
              status: 'completed',
              content: [{ type: 'input_text', text: 'calc: 2+3' }],
            },
            first,
            'input',
          ),
        ],
        output: [
          stored(
            {
              type: 'function_call',
              call_id: 'call_1',
              name: 'calculator',
              arguments: '{"expression":"2+3"}',
              status: 'completed',
            },
            first,
            'output',
          ),
          stored(
            {
              type: 'function_call_output',
              call_id: 'call_1',
              output: '5',
              status: 'completed',
              is_error: false,
              duration_ms: 3,
            },
            first,
            'output',
          ),
          stored(
            {
              type: 'message',
              role: 'assistant',
              status: 'completed',
              content: [{ type: 'output_text', text: 'It is **5**.', annotations: [] }],
            },
            first,
            'output',
          ),
        ],
      },
      {
        turn: turn(second, 'conv_aaaaaaaa', 'cancelled'),
        input: [
          stored(
            {
              type: 'message',
              role: 'user',
              status: 'completed',
              content: [{ type: 'input_text', text: 'Tell me a story' }],
            },
            second,
            'input',
          ),
        ],
        output: [
          stored(
            {
              type: 'message',
              role: 'assistant',
              status: 'incomplete',
              content: [{ type: 'output_text', text: 'Once upon', annotations: [] }],
            },
            second,
            'output',
          ),
        ],
      },
    ],
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

describe('formatExport and the parley import format', () => {
  it('round-trips a conversation through the JSON export', () => {
    const { filename, content } = formatExport([source()], 'json', EXPORTED)
    expect(filename).toBe('math-code-conv_aaaaaaaa.json')
    const parsed = parseImportFile(content)
    expect(parsed.format).toBe('parley')
    const [imported] = parsed.conversations
    expect(imported?.externalId).toBe('parley:conv_aaaaaaaa')
    expect(imported?.title).toBe('Math & `code`')
    expect(imported?.metadata).toEqual({ project: 'demo', externalId: 'parley:conv_aaaaaaaa' })
    expect(imported?.createdAt.toISOString()).toBe(AT)
    expect(imported?.turns).toHaveLength(2)
    const original = source()
    expect(imported?.turns[0]?.output).toEqual(
      original.turns[0]!.output.map(
        ({ id, conversationId, turnId, seq, side, tokenCount, createdAt, ...body }) => body,
      ),
    )
    expect(imported?.turns[1]?.input.map(messageText)).toEqual(['Tell me a story'])
    expect(imported?.turns[0]?.model).toBe('demo-1')
    // Nothing the store minted leaks into the file.
    expect(content).not.toMatch(/item_0/)
  })

  it('carries how each turn ended: status, usage, error and end time; a running turn comes back interrupted', () => {
    const exported = source()
    const [done, stopped] = exported.turns
    stopped!.turn = {
      ...stopped!.turn,
      status: 'failed',
      error: { reason: 'upstream_timeout', message: 'Too slow' },
    }
    const running = {
      ...done!,
      turn: { ...done!.turn, id: 'resp_running000000', status: 'streaming' as const },
    }
    exported.turns.push(running)
    const [imported] = parseImportFile(formatExport([exported], 'json', EXPORTED).content).conversations
    expect(imported?.turns.map((entry) => entry.status)).toEqual(['completed', 'failed', 'interrupted'])
    expect(imported?.turns[0]?.usage).toEqual(done!.turn.usage)
    expect(imported?.turns[0]?.completedAt?.toISOString()).toBe(done!.turn.completedAt)
    expect(imported?.turns[1]?.error).toEqual({ reason: 'upstream_timeout', message: 'Too slow' })
    expect(imported?.turns[0]?.error).toBeNull()
  })

  it('keeps the externalId of an imported conversation, so exporting and re-importing it is a no-op', () => {
    const imported = source()
    imported.conversation.metadata = { source: 'legacy', externalId: 'legacy:abc' }
    const { content } = formatExport([imported, source()], 'json', EXPORTED)
    expect(parseImportFile(content).conversations.map((entry) => entry.externalId)).toEqual([
      'legacy:abc',
      'parley:conv_aaaaaaaa',
    ])
  })

  it('names a multi-conversation export by date and renders markdown for people', () => {
    const { filename, content } = formatExport([source(), source()], 'markdown', EXPORTED)
    expect(filename).toBe('parley-export-2026-03-01.md')
    expect(content.match(/^# Math & `code`$/gm)).toHaveLength(2)
    expect(content).toContain('### User\n\ncalc: 2+3')
    expect(content).toContain('> **Tool call** `calculator`\n>\n> ` {"expression":"2+3"} `')
    expect(content).toContain('> **Tool result** (3 ms)')
    expect(content).toContain('### Assistant (demo-1)\n\nIt is **5**.')
    expect(content).toContain('_(this reply is cancelled)_')
    expect(content).toContain('\n\n---\n\n')
  })

  it('rejects a Parley export of the wrong shape with paths', () => {
    const { content } = formatExport([source()], 'json', EXPORTED)
    const file = JSON.parse(content)
    file.version = 2
    file.conversations[0].turns[0].input[0].content = 'text'
    const error = caught(() => parseImportFile(JSON.stringify(file)))
    expect(error.message).toMatch(/^Invalid Parley export: /)
    expect(error.issues.map((issue) => issue.path)).toEqual([
      'version',
      'conversations.0.turns.0.input.0.content',
    ])
  })
})

describe('parseImportFile', () => {
  it('detects the format from the top-level shape', () => {
    expect(detectImportFormat({ format: 'parley' })).toBe('parley')
    expect(detectImportFormat([])).toBe('chatgpt')
    expect(detectImportFormat({ c: { messages: [] } })).toBe('legacy')
    expect(detectImportFormat('text')).toBeNull()
    expect(detectImportFormat(null)).toBeNull()
  })

  it('reads a file with a byte order mark, and honours an explicit format', () => {
    const legacy = '\uFEFF{"c":{"chat_name":"x","messages":[{"role":"user","text":"hi","timestamp":1}]}}'
    expect(parseImportFile(legacy).conversations[0]?.externalId).toBe('legacy:c')
    const error = caught(() => parseImportFile(legacy, { format: 'chatgpt' }))
    expect(error.message).toMatch(/^Invalid ChatGPT export: expected a JSON array/)
  })

  it('rejects text that is not JSON, or JSON of no known format, with one clear message', () => {
    expect(caught(() => parseImportFile('{"c": {"messages": [')).message).toMatch(
      /^The file is not valid JSON: /,
    )
    expect(caught(() => parseImportFile('')).message).toMatch(/^The file is not valid JSON/)
    expect(caught(() => parseImportFile('"just a string"')).message).toMatch(/^Unknown file format/)
  })
})
