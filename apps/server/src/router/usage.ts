import { ValidationError } from '@parley/core'
import type { TRPCRouterRecord } from '@trpc/server'
import { z } from 'zod'
import { protectedProcedure } from './trpc.ts'

const DAY_MS = 86_400_000
const IsoDate = z.union([z.iso.date(), z.iso.datetime({ offset: true })])

export const usageRouter = {
  /** Totals by UTC day and model for [from, to); default: the last 30 days. */
  totals: protectedProcedure
    .input(z.object({ from: IsoDate.optional(), to: IsoDate.optional() }).default({}))
    .query(({ ctx, input }) => {
      const to = input.to ? new Date(input.to) : new Date(Date.now() + DAY_MS)
      const from = input.from ? new Date(input.from) : new Date(to.getTime() - 31 * DAY_MS)
      if (from.getTime() >= to.getTime()) {
        throw new ValidationError([{ path: 'from', message: 'must be before `to`' }])
      }
      if (to.getTime() - from.getTime() > 366 * DAY_MS) {
        throw new ValidationError([{ path: 'from', message: 'the range must be at most 366 days' }])
      }
      return ctx.stores.usage.totals(ctx.userId, { from, to })
    }),
} satisfies TRPCRouterRecord
