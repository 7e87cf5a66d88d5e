import { type ContextItem, ItemBody, userText } from '@parley/core'
import { sql } from 'drizzle-orm'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { rawRows } from '../src/db.ts'
import { createStores, type PersistentStores, PgTurnStore } from '../src/index.ts'
import { encodeBody } from '../src/item-body.ts'
import { createDatabase } from '../src/testing/index.ts'
import { assistant, claimInput, DRIVERS, type DriverName, storedItems, usage } from './harness.ts'

/** Half an hour off UTC: an item time read in the session's zone instead of UTC would show it. */
const SESSION_ZONE = 'Asia/Kolkata'

/** Text that JSON must escape, and characters beyond ASCII and beyond the BMP. */
const AWKWARD =
  'quote " backslash \\ \\\\ newline \n tab \t control \u0001 é 中文 🚀 \u2028 </script> {"a":[1]}'

const BODIES: ItemBody[] = [
  userText(AWKWARD),
  {
    type: 'function_call',
    call_id: 'call_1',
    name: 'clock',
    arguments: '{"tz":"UTC","path":"C:\\\\dir","q":"\\"x\\""}',
    status: 'completed',
  },
  {
    type: 'function_call_output',
    call_id: 'call_1',
    output: `12:00 ${AWKWARD}`,
    status: 'completed',
    is_error: false,
    duration_ms: 3,
  },
  {
    type: 'reasoning',
    summary: [{ type: 'summary_text', text: `thinking ${AWKWARD}` }],
    encrypted_content: 'gAAAA+/=',
  },
  { type: 'reasoning', summary: [], encrypted_content: null },
  {
    type: 'message',
    role: 'assistant',
    status: 'incomplete',
    content: [
      {
        type: 'output_text',
        text: AWKWARD,
        annotations: [{ type: 'url_citation', url: 'https://example.com' }],
      },
      { type: 'refusal', refusal: 'no 🙅' },
    ],
  },
  // Plain text messages, stored in the short form: text that looks like JSON, commas, no text.
  userText('plain, {"a":[1]} "quoted" é 中文 🚀'),
  { type: 'message', role: 'developer', status: 'completed', content: [{ type: 'input_text', text: '' }] },
]
const INPUT_COUNTS = [1, 2, 3, 4, 5, 6, 7, 8]
const OUTPUT: ItemBody[] = [...BODIES.slice(1), assistant(`done ${AWKWARD}`), assistant('done, plainly')]
const OUTPUT_COUNTS = [9, 10, 11, 12, 13, 14, 15, 0, 16]

/** Stores whose sessions run in `SESSION_ZONE`, and how to close them. */
async function openZoned(driver: DriverName): Promise<{ stores: PersistentStores; close(): Promise<void> }> {
  if (driver === 'pglite') {
    const stores = await createStores({ memory: true })
    await stores.migrate()
    // One connection: the setting holds for every statement after it.
    await stores.db.execute(`set timezone = '${SESSION_ZONE}'`)
    return { stores, close: () => stores.close() }
  }
  const database = await createDatabase(inject('postgresUrl'))
  const admin = postgres(database.url, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(
      `alter database "${new URL(database.url).pathname.slice(1)}" set timezone = '${SESSION_ZONE}'`,
    )
  } finally {
    await admin.end({ timeout: 5 })
  }
  const stores = await createStores({ url: database.url })
  await stores.migrate()
  return {
    stores,
    async close() {
      await stores.close()
      await database.stop()
    },
  }
}

describe.each(DRIVERS)('item bodies on %s', (driver) => {
  let zoned: { stores: PersistentStores; close(): Promise<void> }
  const stores = () => zoned.stores

  beforeAll(async () => {
    zoned = await openZoned(driver)
  })
  afterAll(async () => {
    await zoned.close()
  })

  /** A finished first turn with every kind of body, in and out. */
  async function firstTurn(userId: string, conversationId: string) {
    const first = await stores().turns.claim(
      claimInput(userId, conversationId, { input: BODIES, inputTokenCounts: INPUT_COUNTS }),
    )
    if (first.status !== 'claimed') throw new Error(first.status)
    const finished = await stores().turns.finish(first.turn.id, {
      status: 'completed',
      output: OUTPUT,
      outputTokenCounts: OUTPUT_COUNTS,
      usage: usage(1, 1),
      ledger: [],
      error: null,
      upstreamResponseId: null,
      truncated: false,
    })
    return { first, finished }
  }

  it('stores each body as encodeBody writes it (short form or JSON), and hands out the items its rows make, whichever path inserted them', async () => {
    const [zone] = await stores()
      .db.execute('show timezone')
      .then((result) => (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows))
    expect(Object.values(zone as object)).toEqual([SESSION_ZONE])
    const { user } = await stores().users.create('body')
    const conversation = await stores().conversations.create(user.id, {})

    // Claim (one statement) and finish (one statement) with every kind of body.
    const { first, finished } = await firstTurn(user.id, conversation.id)

    // appendOutput, then a sweep that stores a message known only from the event log.
    const second = await stores().turns.claim(
      claimInput(user.id, conversation.id, { parentTurnId: first.turn.id, leaseMs: 0 }),
    )
    if (second.status !== 'claimed') throw new Error(second.status)
    const appended = await stores().turns.appendOutput(second.turn.id, [assistant('partial')], [9])
    await stores().events.append([
      {
        type: 'item.started',
        itemId: 'item_streamedstreamed',
        itemType: 'message',
        id: `${second.turn.id}:1`,
        turnId: second.turn.id,
        seq: 1,
      },
      {
        type: 'text.delta',
        itemId: 'item_streamedstreamed',
        delta: 'streamed',
        id: `${second.turn.id}:2`,
        turnId: second.turn.id,
        seq: 2,
      },
    ])
    expect(await stores().turns.sweepExpired()).toHaveLength(1)

    // Fork and import: rows written with their own timestamps.
    const fork = await stores().conversations.fork(user.id, conversation.id, finished.output[1]?.id ?? '')
    const imported = await stores().conversations.importConversation(user.id, {
      externalId: 'body:1',
      title: 'imported',
      metadata: {},
      createdAt: new Date('2024-02-29T23:59:59.999Z'),
      updatedAt: new Date('2024-02-29T23:59:59.999Z'),
      turns: [
        {
          input: [userText('leap')],
          output: [assistant('day')],
          createdAt: new Date('2024-02-29T23:59:59.999Z'),
          model: 'm',
        },
      ],
    })

    const stored = await storedItems(stores())
    const expected = [conversation.id, fork?.id, imported.conversation.id]
    expect(new Set(stored.map((item) => item.conversationId))).toEqual(new Set(expected))
    // 8 + 9 claimed and finished, 1 + 1 + 1 claimed, appended and swept, 10 forked, 2 imported.
    expect(stored).toHaveLength(32)
    expect(stored.map((item) => item.createdAt)).toContain('2024-02-29T23:59:59.999Z')
    const byId = new Map(stored.map((item) => [item.id, item]))
    const handedOut = [...first.input, ...finished.input, ...finished.output, ...second.input, ...appended]
    for (const item of handedOut) expect(item).toEqual(byId.get(item.id))
    expect(first.input.map(({ id: _, ...item }) => item)).toEqual(
      BODIES.map((body, index) => ({
        ...body,
        conversationId: conversation.id,
        turnId: first.turn.id,
        seq: index + 1,
        side: 'input',
        tokenCount: INPUT_COUNTS[index],
        createdAt: first.turn.createdAt,
      })),
    )
    // The stored text is the body as validated, in the short form when it is a plain text message
    // without U+0001, else as JSON.stringify writes it.
    const texts = await rawRows<{ body: string }>(
      stores().db,
      sql`select body from items where turn_id = ${first.turn.id} order by seq`,
    )
    expect(texts.map((row) => row.body)).toEqual(
      [...BODIES, ...OUTPUT].map((body) => encodeBody(ItemBody.parse(body))),
    )
    expect(texts.map((row) => row.body.charAt(0)).join('')).toBe('{{{{{{ud{{{{{ud{A')
  })

  it('a context read gives exactly the bodies, turn ids and token counts written, on every path', async () => {
    const { user } = await stores().users.create('context')
    const conversation = await stores().conversations.create(user.id, {})
    const { first } = await firstTurn(user.id, conversation.id)
    const next = (turnId: string, text: string): ContextItem[] => [
      ...BODIES.map((body, index) => ({
        body,
        turnId: first.turn.id,
        tokenCount: INPUT_COUNTS[index] ?? -1,
      })),
      ...OUTPUT.map((body, index) => ({
        body,
        turnId: first.turn.id,
        tokenCount: OUTPUT_COUNTS[index] ?? -1,
      })),
      { body: userText(text), turnId, tokenCount: 3 },
    ]

    // Claimed pending, then started: the start's read, then a plain read.
    const pending = await stores().turns.claim(
      claimInput(user.id, conversation.id, { parentTurnId: first.turn.id, input: [userText(AWKWARD)] }),
    )
    if (pending.status !== 'claimed') throw new Error(pending.status)
    expect(await stores().turns.startStreaming(user.id, pending.turn.id, 60_000)).toEqual(
      next(pending.turn.id, AWKWARD),
    )
    expect(await stores().turns.context(user.id, pending.turn.id)).toEqual(next(pending.turn.id, AWKWARD))
    await stores().turns.finish(pending.turn.id, {
      status: 'failed',
      output: [],
      outputTokenCounts: [],
      usage: null,
      ledger: [],
      error: { reason: 'provider_error', message: 'no' },
      upstreamResponseId: null,
      truncated: false,
    })

    // A claim that starts its turn: from the chain this store kept when `first` ended, and from
    // the database on a store that never saw it (the claim's own statement reads it).
    const kept = await stores().turns.claim(
      claimInput(user.id, conversation.id, {
        parentTurnId: first.turn.id,
        start: true,
        input: [userText('k 🚀')],
      }),
    )
    if (kept.status !== 'claimed') throw new Error(kept.status)
    expect(kept.context).toEqual(next(kept.turn.id, 'k 🚀'))
    await stores().turns.finish(kept.turn.id, {
      status: 'cancelled',
      output: [],
      outputTokenCounts: [],
      usage: null,
      ledger: [],
      error: null,
      upstreamResponseId: null,
      truncated: false,
    })
    const fresh = new PgTurnStore(stores().db)
    const cold = await fresh.claim(
      claimInput(user.id, conversation.id, {
        parentTurnId: first.turn.id,
        start: true,
        input: [userText('c "')],
      }),
    )
    if (cold.status !== 'claimed') throw new Error(cold.status)
    expect(cold.context).toEqual(next(cold.turn.id, 'c "'))
  })
})
