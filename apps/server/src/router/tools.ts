import type { TRPCRouterRecord } from '@trpc/server'
import { protectedProcedure } from './trpc.ts'

export const toolsRouter = {
  /** The server tools a turn may use (JSON Schema parameters, as offered to models). */
  list: protectedProcedure.query(({ ctx }) => ctx.tools.list()),
} satisfies TRPCRouterRecord
