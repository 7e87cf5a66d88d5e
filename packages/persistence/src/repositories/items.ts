import { type Item, type ItemBody, newId } from '@parley/core'
import { asc, eq, inArray, type SQL, sql } from 'drizzle-orm'
import type { Executor } from '../db.ts'
import { toItem } from '../mappers.ts'
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
  /** The owning turn's place in the tree (its `segment_id` and `depth`). */
  segmentId: string
  turnDepth: number
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
    segmentId: input.segmentId,
    turnDepth: input.turnDepth,
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
    for (const row of inserted) stored.push(toItem(row))
  }
  return stored
}

export function insertItems(executor: Executor, input: NewItems): Promise<Item[]> {
  return insertItemRows(executor, itemRows(input))
}

/** Appends output items to a turn: the next seqs of its conversation, then the rows. */
export async function insertOutput(
  executor: Executor,
  turn: { conversationId: string; id: string; segmentId: string; depth: number },
  items: Pick<NewItems, 'bodies' | 'tokenCounts' | 'ids'>,
): Promise<Item[]> {
  const firstSeq = await allocateSeqs(executor, turn.conversationId, items.bodies.length)
  return insertItems(executor, {
    ...items,
    conversationId: turn.conversationId,
    turnId: turn.id,
    segmentId: turn.segmentId,
    turnDepth: turn.depth,
    side: 'output',
    firstSeq,
  })
}

/** The items of these turns, in seq order. */
export async function itemsOfTurns(executor: Executor, turnIds: string[] | SQL): Promise<Item[]> {
  if (Array.isArray(turnIds) && turnIds.length === 0) return []
  const rows = await executor
    .select()
    .from(items)
    .where(inArray(items.turnId, turnIds))
    .orderBy(asc(items.seq))
  return rows.map(toItem)
}

/** A turn's items split by side, each in seq order. */
export function splitBySide(all: Item[], turnId: string): { input: Item[]; output: Item[] } {
  const input: Item[] = []
  const output: Item[] = []
  for (const item of all) {
    if (item.turnId !== turnId) continue
    ;(item.side === 'input' ? input : output).push(item)
  }
  return { input, output }
}
