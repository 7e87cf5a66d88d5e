import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import { type Logger, SQL, StringChunk } from 'drizzle-orm'
import { type PgDatabase, PgDialect, type PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'

/**
 * What every repository function takes as its first argument: the database or a transaction.
 * Passing it explicitly is the point: with PGlite, using the global db inside a transaction
 * hangs (one connection), and with postgres.js it silently runs outside the transaction.
 */
export type Executor = PgDatabase<PgQueryResultHKT>

export type Driver =
  | { kind: 'pglite'; db: Executor; client: PGlite; migrate(): Promise<void> }
  | { kind: 'postgres'; db: Executor; client: postgres.Sql; migrate(): Promise<void> }

/** The committed drizzle-kit migrations, beside `src/`. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../drizzle', import.meta.url))
/** Any constant: the key of the advisory lock that serializes migrations across processes. */
const MIGRATION_LOCK = 7_261_202_611

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
      // Parley's statements are short lookups. Postgres judges by estimated cost, and a recursive
      // walk's estimate is far too high, so with JIT on a 0.2 ms context read spent 25 ms compiling.
      connection: { jit: 'off' },
    })
    const url = options.url
    const db = drizzlePostgres(client, logger ? { logger } : {})
    preparing.set(db, { client, onQuery: options.onQuery })
    return {
      kind: 'postgres',
      db,
      client,
      // A one-connection client, so that the advisory lock and the migrator share a session:
      // several instances starting at once apply the migrations exactly once.
      async migrate() {
        const single = postgres(url, { max: 1, onnotice: () => {} })
        try {
          await single`select pg_advisory_lock(${MIGRATION_LOCK})`
          await migratePostgres(drizzlePostgres(single), { migrationsFolder: MIGRATIONS_FOLDER })
          await single`select pg_advisory_unlock(${MIGRATION_LOCK})`
        } finally {
          await single.end({ timeout: 5 })
        }
      },
    }
  }
  let client: PGlite
  if (options.memory || !options.dataDir) {
    client = new PGlite()
  } else {
    mkdirSync(options.dataDir, { recursive: true })
    client = new PGlite(options.dataDir)
  }
  await client.waitReady
  const db = drizzlePglite(client, logger ? { logger } : {})
  return {
    kind: 'pglite',
    db,
    client,
    migrate: () => migratePglite(db, { migrationsFolder: MIGRATIONS_FOLDER }),
  }
}

/** Rows of a raw statement: postgres.js answers an array, PGlite an object with `rows`. */
export async function rawRows<Row>(executor: Executor, query: SQL): Promise<Row[]> {
  const result: unknown = await executor.execute(query)
  if (Array.isArray(result)) return result as Row[]
  const rows = (result as { rows?: unknown }).rows
  return Array.isArray(rows) ? (rows as Row[]) : []
}

/** The postgres.js client behind a database, for statements run as named prepared statements. */
const preparing = new WeakMap<
  Executor,
  { client: postgres.Sql; onQuery: ((query: string) => void) | undefined }
>()
const dialect = new PgDialect()

/**
 * `rawRows` for the statements of every turn: on postgres.js they run as named prepared
 * statements (drizzle runs raw SQL unnamed, so Postgres would plan them again on each call).
 * Only for the database itself: a transaction's statements must stay on its connection.
 */
export async function preparedRows<Row>(executor: Executor, query: SQL): Promise<Row[]> {
  const target = preparing.get(executor)
  if (!target) return rawRows<Row>(executor, query)
  const { sql: text, params } = compilePlain(query) ?? dialect.sqlToQuery(query)
  target.onQuery?.(text)
  const rows: unknown = await target.client.unsafe(text, params as postgres.ParameterOrJSON<never>[], {
    prepare: true,
  })
  return rows as Row[]
}

/**
 * The text and parameters of a statement written only with `sql` templates, plain values and
 * nested templates: the shape of every hot-path statement. drizzle's own compiler checks each
 * chunk against a dozen entity kinds and costs more than the round trip on a short statement;
 * this walk gives the same text (`$1`, `$2`, … in order) for that subset, and null for anything
 * else (columns, tables, encoded params, arrays, inlined params) so the caller uses drizzle's.
 */
export function compilePlain(query: SQL): { sql: string; params: unknown[] } | null {
  const params: unknown[] = []
  let text = ''
  const walk = (chunks: readonly unknown[]): boolean => {
    for (const chunk of chunks) {
      if (chunk instanceof StringChunk) {
        text += chunk.value.join('')
      } else if (chunk instanceof SQL) {
        if (inlines(chunk) || !walk(chunk.queryChunks)) return false
      } else if (chunk === undefined) {
        // drizzle renders an undefined chunk as nothing.
      } else if (
        chunk === null ||
        (typeof chunk !== 'object' && typeof chunk !== 'function') ||
        chunk instanceof Date
      ) {
        params.push(chunk)
        text += `$${params.length}`
      } else {
        return false
      }
    }
    return true
  }
  return !inlines(query) && walk(query.queryChunks) ? { sql: text, params } : null
}

/** Whether drizzle would write this template's values into the text (`inlineParams()`). */
function inlines(query: SQL): boolean {
  return (query as unknown as { shouldInlineParams: boolean }).shouldInlineParams
}
