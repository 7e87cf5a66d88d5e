import { type Item, type ItemBody, newId } from '@parley/core'
import { asc, eq, inArray, type SQL, sql } from 'drizzle-orm'
import type { Executor } from '../db.ts'
import { type ItemRow, toItem } from '../mappers.ts'
import { conversations, items } from '../schema.ts'

/** Rows per INSERT: far below Postgres' 65,535 parameters per statement. */
const INSERT_CHUNK = 1000

/**
 * Hands out `count` consecutive item seqs of a conversation. The UPDATE takes the row lock, so
 * concurrent writers to one conversation queue here instead of racing for the same numbers.
 */
export async function allocateSeqs(
  executor: Executor,
  conversationId: string,
  count: number,
  changes: { headTurnId?: string } = {},
): Promise<number> {
  const [row] = await executor
    .update(conversations)
    .set({
      itemSeq: sql`${conversations.itemSeq} + ${count}`,
      updatedAt: sql`now()`,
      ...(changes.headTurnId ? { headTurnId: changes.headTurnId } : {}),
    })
    .where(eq(conversations.id, conversationId))
    .returning({ itemSeq: conversations.itemSeq })
  if (!row) throw new Error('conversation vanished while allocating item seqs')
  return row.itemSeq - count + 1
}

export interface NewItems {
  conversationId: string
  turnId: string
  side: 'input' | 'output'
  bodies: ItemBody[]
  tokenCounts: number[]
  /** Ids already announced for these items (same order); minted when absent. */
  ids?: (string | undefined)[]
  firstSeq: number
  createdAt?: Date
}

export function itemRows(input: NewItems): (typeof items.$inferInsert)[] {
  return input.bodies.map((body, index) => ({
    id: input.ids?.[index] ?? newId('item'),
    conversationId: input.conversationId,
    turnId: input.turnId,
    seq: input.firstSeq + index,
    side: input.side,
    type: body.type,
    role: body.type === 'message' ? body.role : null,
    body,
    tokenCount: input.tokenCounts[index] ?? 0,
    ...(input.createdAt ? { createdAt: input.createdAt } : {}),
  }))
}

export async function insertItemRows(
  executor: Executor,
  rows: (typeof items.$inferInsert)[],
): Promise<Item[]> {
  const stored: Item[] = []
  for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
    const inserted = await executor
      .insert(items)
      .values(rows.slice(start, start + INSERT_CHUNK))
      .returning()
    stored.push(...inserted.map(toItem))
  }
  return stored.sort((a, b) => a.seq - b.seq)
}

export function insertItems(executor: Executor, input: NewItems): Promise<Item[]> {
  return insertItemRows(executor, itemRows(input))
}

/** Appends output items to a turn: the next seqs of its conversation, then the rows. */
export async function insertOutput(
  executor: Executor,
  turn: { conversationId: string; id: string },
  items: Pick<NewItems, 'bodies' | 'tokenCounts' | 'ids'>,
): Promise<Item[]> {
  const firstSeq = await allocateSeqs(executor, turn.conversationId, items.bodies.length)
  return insertItems(executor, {
    ...items,
    conversationId: turn.conversationId,
    turnId: turn.id,
    side: 'output',
    firstSeq,
  })
}

export async function itemsOfTurns(executor: Executor, turnIds: string[] | SQL): Promise<ItemRow[]> {
  if (Array.isArray(turnIds) && turnIds.length === 0) return []
  return executor.select().from(items).where(inArray(items.turnId, turnIds)).orderBy(asc(items.seq))
}

/** A turn's items split by side, each in seq order. */
export function splitBySide(rows: ItemRow[], turnId: string): { input: Item[]; output: Item[] } {
  const input: Item[] = []
  const output: Item[] = []
  for (const row of rows) {
    if (row.turnId !== turnId) continue
    ;(row.side === 'input' ? input : output).push(toItem(row))
  }
  return { input, output }
}
