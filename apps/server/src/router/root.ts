import { chatRouter } from './chat.ts'
import { conversationsRouter } from './conversations.ts'
import { exportsRouter } from './exports.ts'
import { healthRouter } from './health.ts'
import { importsRouter } from './imports.ts'
import { messagesRouter } from './messages.ts'
import { toolsRouter } from './tools.ts'
import { createTRPCRouter } from './trpc.ts'
import { usageRouter } from './usage.ts'

export const appRouter = createTRPCRouter({
  health: healthRouter,
  conversations: conversationsRouter,
  messages: messagesRouter,
  chat: chatRouter,
  tools: toolsRouter,
  usage: usageRouter,
  imports: importsRouter,
  exports: exportsRouter,
})

export type AppRouter = typeof appRouter
