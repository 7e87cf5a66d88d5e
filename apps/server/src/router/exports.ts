import {
  type Conversation,
  ConversationId,
  type ExportSource,
  formatExport,
  NotFoundError,
  type Stores,
  type TurnWithItems,
} from '@parley/core'
import type { TRPCRouterRecord } from '@trpc/server'
import { z } from 'zod'
import { protectedProcedure } from './trpc.ts'

/** One export holds at most this many conversations: the rest would not fit one response anyway. */
export const EXPORT_MAX_CONVERSATIONS = 1000

const ExportInput = z.object({
  /** Without an id: every conversation of the user (newest first). */
  id: ConversationId.optional(),
  format: z.enum(['json', 'markdown']).default('json'),
})

async function branchOf(stores: Stores, userId: string, conversationId: string): Promise<TurnWithItems[]> {
  const turns: TurnWithItems[] = []
  let cursor: string | undefined
  do {
    const page = await stores.turns.branch(userId, conversationId, {
      limit: 200,
      ...(cursor ? { cursor } : {}),
    })
    turns.push(...page.data)
    cursor = page.nextCursor ?? undefined
  } while (cursor)
  return turns
}

async function allConversations(stores: Stores, userId: string): Promise<Conversation[]> {
  const conversations: Conversation[] = []
  let cursor: string | undefined
  do {
    const page = await stores.conversations.list(userId, { limit: 200, ...(cursor ? { cursor } : {}) })
    conversations.push(...page.data)
    cursor = page.nextCursor ?? undefined
  } while (cursor && conversations.length < EXPORT_MAX_CONVERSATIONS)
  return conversations.slice(0, EXPORT_MAX_CONVERSATIONS)
}

export const exportsRouter = {
  /**
   * A conversation (or all of them) as a file: `json` is the Parley export format that
   * `imports.run` reads back; `markdown` is for people. Each conversation is exported with its
   * current branch.
   */
  conversation: protectedProcedure.input(ExportInput).query(async ({ ctx, input }) => {
    let conversations: Conversation[]
    if (input.id) {
      const conversation = await ctx.stores.conversations.get(ctx.userId, input.id)
      if (!conversation) throw new NotFoundError('conversation', input.id)
      conversations = [conversation]
    } else {
      conversations = await allConversations(ctx.stores, ctx.userId)
    }
    const sources: ExportSource[] = []
    for (const conversation of conversations) {
      sources.push({ conversation, turns: await branchOf(ctx.stores, ctx.userId, conversation.id) })
    }
    return { ...formatExport(sources, input.format, new Date()), conversations: sources.length }
  }),
} satisfies TRPCRouterRecord
