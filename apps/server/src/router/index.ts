export { type AppRouter, appRouter } from './root.ts'
export type { Context, ListedTool } from './trpc.ts'
