import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import type { Item } from '@parley/core'
import { type SQL, sql } from 'drizzle-orm'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { rawRows } from '../src/db.ts'
import { createStores, MIGRATIONS_FOLDER, type PersistentStores } from '../src/index.ts'
import { createDatabase } from '../src/testing/index.ts'
import { contextByDefinition, storedItems } from './harness.ts'

/** The committed migrations before turns had a place in the tree: a database as it was then. */
const BEFORE_SEGMENTS = 2

const scratch = mkdtempSync(join(tmpdir(), 'parley-migration-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

function earlierMigrations(): string {
  const folder = join(scratch, 'migrations')
  cpSync(MIGRATIONS_FOLDER, folder, { recursive: true })
  const journalPath = join(folder, 'meta', '_journal.json')
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: unknown[] }
  journal.entries = journal.entries.slice(0, BEFORE_SEGMENTS)
  writeFileSync(journalPath, JSON.stringify(journal))
  return folder
}

/**
 * A tree written with the old schema, turns in creation order: A and F are roots; C regenerates
 * B (both under A), H is a second child of D. Each turn has one input and one output item.
 */
const TREE: [name: string, parent: string | null][] = [
  ['A', null],
  ['B', 'A'],
  ['C', 'A'],
  ['D', 'B'],
  ['E', 'C'],
  ['F', null],
  ['G', 'D'],
  ['H', 'D'],
]
/** Where the backfill must put them: first children continue their parent's segment. */
const PLACES: Record<string, [segment: string, depth: number]> = {
  A: ['A', 0],
  B: ['A', 1],
  C: ['C', 1],
  D: ['A', 2],
  E: ['C', 2],
  F: ['F', 0],
  G: ['A', 3],
  H: ['H', 3],
}
const idOf = (name: string) => `resp_backfill${name}0000`

/** Each turn's input and output item as the old schema stored them (bodies as jsonb). */
const OLD_ITEMS = TREE.flatMap(([name], index) =>
  (
    [
      [1, 'input', 'user'],
      [2, 'output', 'assistant'],
    ] as const
  ).map(([offset, side, role]) => ({
    id: `item_backfill${name}${offset}000`,
    name,
    index,
    seq: index * 2 + offset,
    side,
    role,
    body: {
      type: 'message',
      role,
      status: 'completed',
      content: [{ type: side === 'input' ? 'input_text' : 'output_text', text: `${name} ${side} "é" 🚀 \\` }],
    },
  })),
)

/** Turn A's event log as the old schema stored it: a row per event. */
const OLD_EVENTS = [1, 2, 3].map((seq) => ({
  type: 'text.delta',
  itemId: 'item_backfillA2000',
  delta: `d${seq} "é" 🚀`,
  id: `${idOf('A')}:${seq}`,
  turnId: idOf('A'),
  seq,
}))

function oldRows(): SQL[] {
  const user = 'user_backfill0000'
  const conversation = 'conv_backfill0000'
  const statements: SQL[] = [
    sql`insert into users (id, name) values (${user}, 'old')`,
    sql`insert into conversations (id, user_id, title, head_turn_id, item_seq)
        values (${conversation}, ${user}, 'old', ${idOf('H')}, ${TREE.length * 2})`,
  ]
  TREE.forEach(([name, parent], index) => {
    const at = new Date(Date.UTC(2024, 0, 1, 0, index)).toISOString()
    statements.push(
      sql`insert into turns (id, user_id, conversation_id, parent_turn_id, request_id, fingerprint, status,
            provider, model, settings, created_at, completed_at)
          values (${idOf(name)}, ${user}, ${conversation}, ${parent === null ? null : idOf(parent)}, ${`req-${name}`},
            'fp', 'completed', 'scripted', 'demo', '{}'::jsonb, ${at}, ${at})`,
    )
    for (const item of OLD_ITEMS.filter((entry) => entry.name === name)) {
      statements.push(
        sql`insert into items (id, conversation_id, turn_id, seq, side, type, role, body, token_count, created_at)
            values (${item.id}, ${conversation}, ${idOf(name)}, ${item.seq}, ${item.side}, 'message', ${item.role},
              ${JSON.stringify(item.body)}::jsonb, 1, ${at})`,
      )
    }
  })
  // Stored out of order: the batch the migration makes is in seq order all the same.
  for (const event of [...OLD_EVENTS].reverse()) {
    statements.push(
      sql`insert into turn_events (turn_id, seq, event) values (${event.turnId}, ${event.seq}, ${JSON.stringify(event)}::jsonb)`,
    )
  }
  return statements
}

/**
 * The old rows keep their bodies through the change from jsonb to text (the text jsonb printed,
 * the same JSON), their `doc` is gone, and the stores hand out the items their rows make.
 */
async function expectBodiesKept(stores: PersistentStores): Promise<Item[]> {
  const stored = await storedItems(stores)
  expect(
    stored.map(({ id, conversationId, turnId, seq, side, tokenCount, createdAt, ...body }) => ({
      id,
      seq,
      side,
      body,
    })),
  ).toEqual(OLD_ITEMS.map(({ id, seq, side, body }) => ({ id, seq, side, body })))
  for (const item of stored) {
    expect(item.createdAt).toBe(
      new Date(
        Date.UTC(2024, 0, 1, 0, OLD_ITEMS.find((old) => old.id === item.id)?.index ?? -1),
      ).toISOString(),
    )
  }
  const columns = await rawRows<{ column_name: string; data_type: string }>(
    stores.db,
    sql`select column_name, data_type from information_schema.columns
        where table_name = 'items' and column_name in ('body', 'doc')`,
  )
  expect(columns).toEqual([{ column_name: 'body', data_type: 'text' }])
  return stored
}

async function expectBackfilled(stores: PersistentStores): Promise<void> {
  const stored = await expectBodiesKept(stores)
  const user = 'user_backfill0000'
  const parents = new Map(TREE.map(([name, parent]) => [idOf(name), parent === null ? null : idOf(parent)]))
  const itemsByTurn = new Map<string, Item[]>()
  for (const [name] of TREE) {
    const turn = await stores.turns.get(user, idOf(name))
    if (!turn) throw new Error(`lost turn ${name}`)
    itemsByTurn.set(idOf(name), [...turn.input, ...turn.output])
    for (const item of [...turn.input, ...turn.output])
      expect(item).toEqual(stored.find((row) => row.id === item.id))
  }
  const placed = await stores.db.execute(sql`select id, segment_id, depth from turns order by id`)
  const rows = (Array.isArray(placed) ? placed : (placed as { rows: unknown[] }).rows) as {
    id: string
    segment_id: string
    depth: number
  }[]
  expect(Object.fromEntries(rows.map((row) => [row.id, [row.segment_id, row.depth]]))).toEqual(
    Object.fromEntries(
      Object.entries(PLACES).map(([name, [segment, depth]]) => [idOf(name), [idOf(segment), depth]]),
    ),
  )
  for (const [name] of TREE) {
    const turnId = idOf(name)
    const context = await stores.turns.context(user, turnId)
    expect(context).toEqual(contextByDefinition(turnId, parents, itemsByTurn))
    expect(context.length).toBeGreaterThan(0)
  }
  // The old event log became one batch per turn, read back the same.
  expect(await stores.events.readAfter(idOf('A'), 0)).toEqual(OLD_EVENTS)
  expect(await stores.events.readAfter(idOf('A'), 1)).toEqual(OLD_EVENTS.slice(1))
  expect(await stores.events.readAfter(idOf('B'), 0)).toEqual([])
  // The current branch ends at H: A, B, D, H.
  const branch = await stores.turns.branch(user, 'conv_backfill0000', { limit: 10 })
  expect(branch.data.map((entry) => entry.turn.id)).toEqual(['A', 'B', 'D', 'H'].map(idOf))

  // Applying the migrations again changes nothing.
  const applied = sql`select count(*)::int as count from drizzle.__drizzle_migrations`
  const [before] = await rawRows<{ count: number }>(stores.db, applied)
  await stores.migrate()
  expect(await rawRows<{ count: number }>(stores.db, applied)).toEqual([before])
  expect(await storedItems(stores)).toEqual(stored)
  expect(await stores.ready()).toBe(true)
}

describe('the turn-segments, item-body and event-batch migrations', () => {
  it('backfills an existing Postgres database', async () => {
    const database = await createDatabase(inject('postgresUrl'))
    const client = postgres(database.url, { max: 1, onnotice: () => {} })
    let stores: PersistentStores | undefined
    try {
      const old = drizzlePostgres(client)
      await migratePostgres(old, { migrationsFolder: earlierMigrations() })
      for (const statement of oldRows()) await old.execute(statement)
      stores = await createStores({ url: database.url })
      await stores.migrate()
      await expectBackfilled(stores)
    } finally {
      await stores?.close()
      await client.end({ timeout: 5 })
      await database.stop()
    }
  })

  it('backfills an existing PGlite directory', async () => {
    const dataDir = join(scratch, 'pglite')
    const client = new PGlite(dataDir)
    const old = drizzlePglite(client)
    await migratePglite(old, { migrationsFolder: earlierMigrations() })
    for (const statement of oldRows()) await old.execute(statement)
    await client.close()
    const stores = await createStores({ dataDir })
    try {
      await stores.migrate()
      await expectBackfilled(stores)
    } finally {
      await stores.close()
    }
  })
})
