import {
  type Conversation,
  ConversationId,
  type ExportSource,
  formatExport,
  NotFoundError,
  PageInput,
  type Stores,
  type TurnWithItems,
} from '@parley/core'
import type { TRPCRouterRecord } from '@trpc/server'
import { z } from 'zod'
import { protectedProcedure } from './trpc.ts'

/**
 * Conversations in one page of an export of all of them: each page is one response, so that an
 * account of any size exports in responses of bounded size. `nextCursor` asks for the next page.
 */
export const EXPORT_PAGE_SIZE = 100

const ExportInput = z.object({
  /** Without an id: the user's conversations, newest first, a page at a time from `cursor`. */
  id: ConversationId.optional(),
  format: z.enum(['json', 'markdown']).default('json'),
  cursor: PageInput.shape.cursor,
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

export const exportsRouter = {
  /**
   * A conversation (or all of them) as a file: `json` is the Parley export format that
   * `imports.run` reads back; `markdown` is for people. Each conversation is exported with its
   * current branch.
   */
  conversation: protectedProcedure.input(ExportInput).query(async ({ ctx, input }) => {
    let conversations: Conversation[]
    let nextCursor: string | null = null
    if (input.id) {
      const conversation = await ctx.stores.conversations.get(ctx.userId, input.id)
      if (!conversation) throw new NotFoundError('conversation', input.id)
      conversations = [conversation]
    } else {
      const page = await ctx.stores.conversations.list(ctx.userId, {
        limit: EXPORT_PAGE_SIZE,
        ...(input.cursor ? { cursor: input.cursor } : {}),
      })
      conversations = page.data
      nextCursor = page.nextCursor
    }
    const sources: ExportSource[] = []
    for (const conversation of conversations) {
      sources.push({ conversation, turns: await branchOf(ctx.stores, ctx.userId, conversation.id) })
    }
    return { ...formatExport(sources, input.format, new Date()), conversations: sources.length, nextCursor }
  }),
} satisfies TRPCRouterRecord
