import type { Conversation, Turn } from '@parley/core'
import type { conversations, turns } from './schema.ts'

export type ConversationRow = typeof conversations.$inferSelect
export type TurnRow = typeof turns.$inferSelect

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
