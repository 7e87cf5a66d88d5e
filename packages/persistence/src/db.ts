import { mkdirSync } from 'node:fs'
import { PGlite } from '@electric-sql/pglite'
import type { Logger, SQL } from 'drizzle-orm'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'

/**
 * What every repository function takes as its first argument: the database or a transaction.
 * Passing it explicitly is the point: with PGlite, using the global db inside a transaction
 * hangs (one connection), and with postgres.js it silently runs outside the transaction.
 */
export type Executor = PgDatabase<PgQueryResultHKT>

export type Driver =
  | { kind: 'pglite'; db: Executor; client: PGlite }
  | { kind: 'postgres'; db: Executor; client: postgres.Sql }

export interface ConnectOptions {
  url?: string
  dataDir?: string
  memory?: boolean
  /** Called with the SQL text of every statement drizzle sends (query counting in benchmarks). */
  onQuery?: (query: string) => void
  /** Connections in the postgres.js pool (default 10). */
  poolSize?: number
}

export async function connect(options: ConnectOptions): Promise<Driver> {
  const logger: Logger | undefined = options.onQuery
    ? { logQuery: (query) => options.onQuery?.(query) }
    : undefined
  if (options.url) {
    const client = postgres(options.url, {
      max: options.poolSize ?? 10,
      onnotice: () => {},
      // Parley's ids and payloads are text/jsonb; prepared statements make repeated queries cheaper.
      prepare: true,
    })
    return { kind: 'postgres', db: drizzlePostgres(client, logger ? { logger } : {}), client }
  }
  let client: PGlite
  if (options.memory || !options.dataDir) {
    client = new PGlite()
  } else {
    mkdirSync(options.dataDir, { recursive: true })
    client = new PGlite(options.dataDir)
  }
  await client.waitReady
  return { kind: 'pglite', db: drizzlePglite(client, logger ? { logger } : {}), client }
}

/** Rows of a raw statement: postgres.js answers an array, PGlite an object with `rows`. */
export async function rawRows<Row>(executor: Executor, query: SQL): Promise<Row[]> {
  const result: unknown = await executor.execute(query)
  if (Array.isArray(result)) return result as Row[]
  const rows = (result as { rows?: unknown }).rows
  return Array.isArray(rows) ? (rows as Row[]) : []
}
