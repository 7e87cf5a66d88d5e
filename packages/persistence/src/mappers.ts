import type { Conversation, Item, Turn } from '@parley/core'
import type { conversations, items, turns } from './schema.ts'

export type ConversationRow = typeof conversations.$inferSelect
export type TurnRow = typeof turns.$inferSelect
export type ItemRow = typeof items.$inferSelect

const iso = (value: Date) => value.toISOString()

export function toConversation(row: ConversationRow): Conversation {
  return {
    id: row.id,
    title: row.title,
    metadata: row.metadata,
    headTurnId: row.headTurnId,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  }
}

export function toTurn(row: TurnRow): Turn {
  return {
    id: row.id,
    conversationId: row.conversationId,
    parentTurnId: row.parentTurnId,
    requestId: row.requestId,
    status: row.status,
    provider: row.provider,
    model: row.model,
    instructions: row.instructions,
    settings: row.settings,
    usage: row.usage,
    error: row.error,
    upstreamResponseId: row.upstreamResponseId,
    truncated: row.truncated,
    createdAt: iso(row.createdAt),
    completedAt: row.completedAt ? iso(row.completedAt) : null,
  }
}

/** The columns of an item row that make its `Item`. */
export type ItemFields = Pick<
  ItemRow,
  'id' | 'conversationId' | 'turnId' | 'seq' | 'side' | 'tokenCount' | 'createdAt' | 'body'
>

/** The `Item` of a row: its body's fields, then its own. */
export function toItem(row: ItemFields): Item {
  return {
    ...row.body,
    id: row.id,
    conversationId: row.conversationId,
    turnId: row.turnId,
    seq: row.seq,
    side: row.side,
    tokenCount: row.tokenCount,
    createdAt: iso(row.createdAt),
  }
}
