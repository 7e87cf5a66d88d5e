export type { AuthMode, ProviderKind, ServerConfig } from './config.ts'
export { ConfigError, isLoopbackHost, loadConfig } from './config.ts'
export { type AppRouter, appRouter } from './router/index.ts'
export { createParleyServer, type ParleyServer, type ServerDeps, type ServerOptions } from './server.ts'
