import { resolve } from 'node:path'
import { ParleyError } from '@parley/core'
import { createStores } from '@parley/persistence'
import { ConfigError, loadConfig } from './config.ts'

const USAGE = `usage: parley-server <command>
  create-user NAME [--json]   create a user and print its first API key
  migrate                     apply database migrations`

/** Exit codes: 0 ok, 1 failure, 2 usage error. */
async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  const json = rest.includes('--json')
  const positional = rest.filter((arg) => arg !== '--json')
  if (command === 'create-user') {
    const name = positional[0]?.trim()
    if (
      !name ||
      positional.length !== 1 ||
      name.length > 200 ||
      rest.some((a) => a.startsWith('-') && a !== '--json')
    ) {
      process.stderr.write(`${USAGE}\n`)
      return 2
    }
    return withStores(async (stores) => {
      const { user, apiKey } = await stores.users.create(name)
      if (json) process.stdout.write(`${JSON.stringify({ user, apiKey })}\n`)
      else {
        process.stdout.write(
          `Created user ${user.name} (${user.id}).\nAPI key (shown once, store it now):\n${apiKey}\n`,
        )
      }
      return 0
    })
  }
  if (command === 'migrate') {
    if (positional.length > 0) {
      process.stderr.write(`${USAGE}\n`)
      return 2
    }
    return withStores(async () => {
      process.stdout.write(json ? '{"migrated":true}\n' : 'Migrations applied.\n')
      return 0
    })
  }
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  process.stderr.write(`${USAGE}\n`)
  return 2
}

type Stores = Awaited<ReturnType<typeof createStores>>

async function withStores(run: (stores: Stores) => Promise<number>): Promise<number> {
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig(process.env)
  } catch (error) {
    process.stderr.write(
      `parley-server: ${error instanceof ConfigError ? error.message : 'invalid configuration'}\n`,
    )
    return 1
  }
  let stores: Stores | null = null
  try {
    const dataDir = resolve(process.env.INIT_CWD ?? process.cwd(), config.dataDir)
    stores = await createStores(config.databaseUrl ? { url: config.databaseUrl } : { dataDir })
    await stores.migrate()
    return await run(stores)
  } catch (error) {
    // A ParleyError's message is safe to show; anything else may carry SQL or a connection string.
    const message = error instanceof ParleyError ? error.message : 'could not reach or update the database'
    process.stderr.write(`parley-server: failed: ${message}\n`)
    return 1
  } finally {
    await stores?.close().catch(() => undefined)
  }
}

process.exitCode = await main(process.argv.slice(2))
