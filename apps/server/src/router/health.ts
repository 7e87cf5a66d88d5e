import type { TRPCRouterRecord } from '@trpc/server'
import { publicProcedure } from './trpc.ts'

export const healthRouter = {
  check: publicProcedure.query(({ ctx }) => ({ status: 'ok' as const, ...ctx.info })),
} satisfies TRPCRouterRecord
