import { ConversationId, NotFoundError } from '@parley/core'
import type { TRPCRouterRecord } from '@trpc/server'
import { z } from 'zod'
import { protectedProcedure } from './trpc.ts'

export const messagesRouter = {
  /** The current branch, oldest turn first, each with its input, output and sibling ids. */
  list: protectedProcedure
    .input(
      z.object({
        conversationId: ConversationId,
        cursor: z.string().max(200).optional(),
        limit: z.number().int().min(1).max(200).optional(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const { conversationId, ...page } = input
      // The branch query answers an empty page for unknown ids; the API answers not_found.
      if (!(await ctx.stores.conversations.get(ctx.userId, conversationId))) {
        throw new NotFoundError('conversation', conversationId)
      }
      return ctx.stores.turns.branch(ctx.userId, conversationId, page)
    }),
} satisfies TRPCRouterRecord
