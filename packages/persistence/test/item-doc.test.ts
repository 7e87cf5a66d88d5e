import { type ItemBody, userText } from '@parley/core'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createStores, type PersistentStores } from '../src/index.ts'
import { createDatabase } from '../src/testing/index.ts'
import { assistant, claimInput, DRIVERS, type DriverName, storedDocs, usage } from './harness.ts'

/** Half an hour off UTC: a doc that formatted local time instead of UTC would show it. */
const SESSION_ZONE = 'Asia/Kolkata'

const BODIES: ItemBody[] = [
  userText('quote " backslash \\\\ newline \n unicode é 🚀'),
  { type: 'function_call', call_id: 'call_1', name: 'clock', arguments: '{"tz":"UTC"}', status: 'completed' },
  {
    type: 'function_call_output',
    call_id: 'call_1',
    output: '12:00',
    status: 'completed',
    is_error: false,
    duration_ms: 3,
  },
  { type: 'reasoning', summary: [{ type: 'summary_text', text: 'thinking' }], encrypted_content: null },
]

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

describe.each(DRIVERS)('items.doc on %s', (driver) => {
  let zoned: { stores: PersistentStores; close(): Promise<void> }
  const stores = () => zoned.stores

  beforeAll(async () => {
    zoned = await openZoned(driver)
  })
  afterAll(async () => {
    await zoned.close()
  })

  it('is the item its columns make, whichever path inserted it', async () => {
    const [zone] = await stores()
      .db.execute('show timezone')
      .then((result) => (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows))
    expect(Object.values(zone as object)).toEqual([SESSION_ZONE])
    const { user } = await stores().users.create('doc')
    const conversation = await stores().conversations.create(user.id, {})

    // Claim (one statement) and finish (one statement) with every kind of body.
    const first = await stores().turns.claim(
      claimInput(user.id, conversation.id, { input: BODIES, inputTokenCounts: [1, 2, 3, 4] }),
    )
    if (first.status !== 'claimed') throw new Error(first.status)
    const finished = await stores().turns.finish(first.turn.id, {
      status: 'completed',
      output: [...BODIES.slice(1), assistant('done')],
      outputTokenCounts: [5, 6, 7, 8],
      usage: usage(1, 1),
      ledger: [],
      error: null,
      upstreamResponseId: null,
      truncated: false,
    })

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
      externalId: 'doc:1',
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

    const docs = await storedDocs(stores())
    const expected = [conversation.id, fork?.id, imported.conversation.id]
    expect(new Set(docs.map((entry) => entry.columns.conversationId))).toEqual(new Set(expected))
    // 4 + 4 claimed and finished, 1 + 1 + 1 claimed, appended and swept, 6 forked, 2 imported.
    expect(docs).toHaveLength(19)
    for (const entry of docs) expect(entry.doc).toEqual(entry.columns)
    expect(docs.map((entry) => entry.columns.createdAt)).toContain('2024-02-29T23:59:59.999Z')
    // What the stores hand out is the doc itself.
    const byId = new Map(docs.map((entry) => [entry.columns.id, entry.doc]))
    for (const item of [...first.input, ...finished.input, ...finished.output, ...appended]) {
      expect(item).toEqual(byId.get(item.id))
    }
    const context = await stores().turns.context(user.id, second.turn.id)
    expect(context).toEqual(
      docs
        .filter((entry) => entry.columns.turnId === first.turn.id || entry.columns.id === second.input[0]?.id)
        .map((entry) => entry.doc),
    )
  })
})
