import { describe, expect, it } from 'vitest'
import { messageText, parseChatGptExport, ValidationError } from '../src/index.ts'

const NOW = new Date('2026-01-01T00:00:00Z')

type Message = {
  role: string
  text?: string
  parts?: unknown[]
  contentType?: string
  hidden?: boolean
  recipient?: string
  model?: string
  at?: number
}

/** A ChatGPT conversation from [id, parent, message] rows, the way conversations.json stores it. */
function conversation(
  rows: [id: string, parent: string | null, message: Message | null][],
  extra: Record<string, unknown> = {},
) {
  const mapping: Record<string, unknown> = {}
  for (const [id, parent, message] of rows) {
    mapping[id] = {
      id,
      parent,
      children: rows.filter((row) => row[1] === id).map((row) => row[0]),
      message: message && {
        id: `m-${id}`,
        author: { role: message.role, name: null, metadata: {} },
        create_time: message.at ?? null,
        update_time: null,
        content: {
          content_type: message.contentType ?? 'text',
          parts: message.parts ?? [message.text ?? ''],
        },
        status: 'finished_successfully',
        end_turn: true,
        weight: 1,
        metadata: {
          ...(message.hidden ? { is_visually_hidden_from_conversation: true } : {}),
          ...(message.model ? { model_slug: message.model } : {}),
        },
        recipient: message.recipient ?? 'all',
      },
    }
  }
  const leaf = rows.at(-1)?.[0] ?? null
  return {
    title: 'Chat',
    create_time: 1_700_000_000.5,
    update_time: 1_700_000_900.25,
    mapping,
    current_node: leaf,
    conversation_id: 'abc-123',
    id: 'abc-123',
    ...extra,
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

const texts = (value: ReturnType<typeof parseChatGptExport>[number]) =>
  value.turns.map((turn) => [turn.input.map(messageText), turn.output.map(messageText)])

describe('parseChatGptExport', () => {
  it('imports the branch from the root to current_node, skipping what is not conversation text', () => {
    const [chat] = parseChatGptExport(
      [
        conversation(
          [
            ['root', null, null],
            ['sys', 'root', { role: 'system', text: 'You are ChatGPT' }],
            ['ctx', 'sys', { role: 'user', text: 'about me', contentType: 'user_editable_context' }],
            ['u1', 'ctx', { role: 'user', text: 'Draw a cat', at: 1_700_000_010 }],
            ['a1-old', 'u1', { role: 'assistant', text: 'A first try', model: 'gpt-4' }],
            ['a1', 'u1', { role: 'assistant', text: '', recipient: 'dalle.text2im', contentType: 'code' }],
            ['tool', 'a1', { role: 'tool', parts: [{ content_type: 'image_asset_pointer' }] }],
            ['a2', 'tool', { role: 'assistant', text: 'Here is a cat.', model: 'gpt-4o', at: 1_700_000_020 }],
            ['hidden', 'a2', { role: 'assistant', text: 'secret', hidden: true }],
            [
              'u2',
              'hidden',
              {
                role: 'user',
                contentType: 'multimodal_text',
                parts: [{ asset_pointer: 'file-1' }, 'And a dog?'],
              },
            ],
            ['a3', 'u2', { role: 'assistant', parts: ['Sure', ''], model: 'gpt-4o' }],
            ['empty', 'a3', { role: 'assistant', text: '  ' }],
          ],
          // The user regenerated the first reply: current_node points into the second branch.
          { current_node: 'empty' },
        ),
      ],
      { now: NOW },
    )
    expect(chat?.externalId).toBe('chatgpt:abc-123')
    expect(chat?.metadata).toEqual({ source: 'chatgpt', externalId: 'chatgpt:abc-123' })
    expect(texts(chat!)).toEqual([
      [['Draw a cat'], ['Here is a cat.']],
      [['And a dog?'], ['Sure']],
    ])
    expect(chat?.turns[0]?.model).toBe('gpt-4o')
    expect(chat?.turns[0]?.createdAt.getTime()).toBe(1_700_000_010_000)
    expect(chat?.createdAt.getTime()).toBe(1_700_000_000_500)
    expect(chat?.updatedAt.getTime()).toBe(1_700_000_900_250)
  })

  it('follows the last child from the root when an old export has no current_node', () => {
    const [chat] = parseChatGptExport(
      [
        conversation(
          [
            ['u1', null, { role: 'user', text: 'Q' }],
            ['a-old', 'u1', { role: 'assistant', text: 'old answer' }],
            ['a-new', 'u1', { role: 'assistant', text: 'new answer' }],
          ],
          { current_node: undefined },
        ),
      ],
      { now: NOW },
    )
    expect(texts(chat!)).toEqual([[['Q'], ['new answer']]])
    expect(chat?.turns[0]?.model).toBe('chatgpt')
  })

  it('derives a stable externalId when the export carries no conversation id', () => {
    const file = [
      conversation([['u', null, { role: 'user', text: 'hi' }]], {
        conversation_id: undefined,
        id: undefined,
      }),
    ]
    const first = parseChatGptExport(file, { now: NOW })[0]?.externalId
    const second = parseChatGptExport(JSON.parse(JSON.stringify(file)), { now: NOW })[0]?.externalId
    expect(first).toMatch(/^chatgpt:h[0-9a-f]{16}$/)
    expect(second).toBe(first)
  })

  it('imports a conversation listed twice once, and an empty mapping as an empty conversation', () => {
    const one = conversation([['u', null, { role: 'user', text: 'hi' }]])
    const empty = { ...conversation([]), conversation_id: 'empty', title: null, mapping: {} }
    const parsed = parseChatGptExport([one, one, empty], { now: NOW })
    expect(parsed.map((entry) => entry.externalId)).toEqual(['chatgpt:abc-123', 'chatgpt:empty'])
    expect(parsed[1]?.turns).toEqual([])
    expect(parsed[1]?.title).toBe('Imported ChatGPT conversation')
  })

  it('rejects structural corruption with paths, importing nothing', () => {
    const good = conversation([['u', null, { role: 'user', text: 'hi' }]])
    const cases: [unknown, string, RegExp][] = [
      [{ not: 'an array' }, '', /expected a JSON array/],
      [[good, 'nope'], '1', /expected a conversation object/],
      [[{ ...good, mapping: [] }], '0.mapping', /expected an object of nodes/],
      [[{ ...good, current_node: 'ghost' }], '0.current_node', /must be the id of a node/],
      [
        [
          conversation(
            [
              ['a', 'b', null],
              ['b', 'a', { role: 'user', text: 'loop' }],
            ],
            { current_node: 'b' },
          ),
        ],
        '0.mapping.b.parent',
        /cycle/,
      ],
      [
        [conversation([['a', 'missing', { role: 'user', text: 'x' }]])],
        '0.mapping.a.parent',
        /unknown node 'missing'/,
      ],
      [[{ ...good, create_time: 'soon' }], '0.create_time', /timestamp/],
      [
        [conversation([['a', null, { role: 'user', text: 'x' }]], { conversation_id: 5 })],
        '0.conversation_id',
        /string/,
      ],
    ]
    for (const [value, path, message] of cases) {
      const error = caught(() => parseChatGptExport(value))
      expect(error.issues[0]?.path).toBe(path)
      expect(error.issues[0]?.message).toMatch(message)
      expect(error.message).toMatch(/^Invalid ChatGPT export: /)
    }
  })

  it('rejects nodes and messages of the wrong shape', () => {
    const broken = conversation([['u', null, { role: 'user', text: 'hi' }]]) as {
      mapping: Record<string, unknown>
    }
    broken.mapping['u'] = { ...(broken.mapping['u'] as object), message: { author: {}, content: {} } }
    broken.mapping['x'] = { parent: null, children: 'u' }
    const error = caught(() => parseChatGptExport([broken]))
    expect(error.issues.map((issue) => issue.path)).toEqual(['0.mapping.x.children'])

    const badMessage = conversation([['u', null, { role: 'user', text: 'hi' }]]) as {
      mapping: Record<string, unknown>
    }
    badMessage.mapping['u'] = { ...(badMessage.mapping['u'] as object), message: { author: {}, content: {} } }
    expect(caught(() => parseChatGptExport([badMessage])).issues.map((issue) => issue.path)).toEqual([
      '0.mapping.u.message.author.role',
    ])

    const badParts = conversation([['u', null, { role: 'user', text: 'hi' }]]) as {
      mapping: Record<string, unknown>
    }
    const node = badParts.mapping['u'] as { message: { content: Record<string, unknown> } }
    node.message.content['parts'] = 'not an array'
    expect(caught(() => parseChatGptExport([badParts])).issues.map((issue) => issue.path)).toEqual([
      '0.mapping.u.message.content.parts',
    ])
  })
})
