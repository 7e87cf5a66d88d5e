import {
  ConversationId,
  CreateConversationInput,
  ItemId,
  NotFoundError,
  ParleyError,
  TurnId,
  UpdateConversationInput,
} from '@parley/core'
import type { TRPCRouterRecord } from '@trpc/server'
import { z } from 'zod'
import { protectedProcedure } from './trpc.ts'

const ById = z.object({ id: ConversationId })

/** Unknown and foreign ids both come back from the stores as null: one answer for both. */
function found<T>(value: T | null, id: string): T {
  if (value === null) throw new NotFoundError('conversation', id)
  return value
}

export const conversationsRouter = {
  create: protectedProcedure
    .input(CreateConversationInput)
    .mutation(({ ctx, input }) => ctx.stores.conversations.create(ctx.userId, input)),

  list: protectedProcedure
    .input(
      z
        .object({
          cursor: z.string().max(200).optional(),
          limit: z.number().int().min(1).max(200).optional(),
          search: z.string().max(200).optional(),
        })
        .default({}),
    )
    .query(({ ctx, input }) => ctx.stores.conversations.list(ctx.userId, input)),

  get: protectedProcedure
    .input(ById)
    .query(async ({ ctx, input }) =>
      found(await ctx.stores.conversations.get(ctx.userId, input.id), input.id),
    ),

  update: protectedProcedure.input(UpdateConversationInput).mutation(async ({ ctx, input }) => {
    const { id, ...patch } = input
    return found(await ctx.stores.conversations.update(ctx.userId, id, patch), id)
  }),

  delete: protectedProcedure.input(ById).mutation(async ({ ctx, input }) => {
    if (!(await ctx.stores.conversations.delete(ctx.userId, input.id)))
      throw new NotFoundError('conversation', input.id)
    return { id: input.id, deleted: true as const }
  }),

  fork: protectedProcedure
    .input(z.object({ id: ConversationId, atItemId: ItemId }))
    .mutation(async ({ ctx, input }) => {
      const forked = await ctx.stores.conversations.fork(ctx.userId, input.id, input.atItemId)
      // An unknown conversation and an unknown item of a known one answer alike.
      if (forked === null) {
        throw new ParleyError(
          'not_found',
          `No item '${input.atItemId}' found in conversation '${input.id}'`,
          404,
        )
      }
      return forked
    }),

  switchBranch: protectedProcedure
    .input(z.object({ id: ConversationId, turnId: TurnId }))
    .mutation(({ ctx, input }) => ctx.branches.switchBranch(ctx.userId, input.id, input.turnId)),
} satisfies TRPCRouterRecord
