import { resolve } from 'node:path'
import { ConfigError, loadConfig } from './config.ts'
import { createLogger } from './log.ts'
import { createParleyServer } from './server.ts'

// Configuration problems are the operator's to fix: one line, no stack.
function fail(message: string): never {
  process.stderr.write(`parley: ${message}\n`)
  process.exit(1)
}

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig(process.env)
} catch (error) {
  fail(error instanceof ConfigError ? error.message : 'could not read the configuration')
}

// `pnpm start` runs in this package's folder; a relative data dir means the caller's folder.
config.dataDir = resolve(process.env.INIT_CWD ?? process.cwd(), config.dataDir)
const logger = createLogger(config.logLevel)
const server = await createParleyServer(config, { logger }).catch((error: unknown) => {
  logger.error({ err: error }, 'start-up failed')
  const code = error instanceof Error && 'code' in error ? String(error.code) : ''
  if (code === 'EADDRINUSE') fail(`port ${config.port} on ${config.host} is already in use (set PORT)`)
  if (code === 'EACCES') fail(`not allowed to listen on ${config.host}:${config.port}`)
  fail('start-up failed (database or provider unreachable?); see the log line above')
})
process.stdout.write(`Parley is running on ${server.url}\n`)

let stopping = false
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1)
    stopping = true
    logger.info({ signal }, 'shutting down')
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed')
        process.exit(1)
      },
    )
  })
}
