import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { LiveBus, Stores } from '@parley/core'
import { sql } from 'drizzle-orm'
import { LocalBus } from './bus.ts'
import { type ConnectOptions, connect, type Driver, type Executor, MIGRATIONS_FOLDER, rawRows } from './db.ts'
import { guarded } from './errors.ts'
import { NotifyBus, type NotifyBusOptions } from './notify-bus.ts'
import { PgConversationStore } from './repositories/conversations.ts'
import { PgEventLog } from './repositories/events.ts'
import { PgTurnStore } from './repositories/turns.ts'
import { PgUsageStore } from './repositories/usage.ts'
import { PgUserStore } from './repositories/users.ts'

export interface CreateStoresOptions extends ConnectOptions {
  /** Tuning of the LISTEN/NOTIFY bus (Postgres only). */
  bus?: NotifyBusOptions
}

export interface PersistentStores extends Stores {
  conversations: PgConversationStore
  turns: PgTurnStore
  events: PgEventLog
  /** Applies the committed migrations; applying them again is a no-op. */
  migrate(): Promise<void>
  /** In-process for PGlite; LISTEN/NOTIFY across instances on Postgres. */
  bus: LiveBus
  /** Which driver is underneath (`pglite` or `postgres`). */
  readonly driver: Driver['kind']
  /** The drizzle executor, for admin commands and tests; repositories receive it explicitly. */
  readonly db: Executor
}

const MIGRATION_COUNT = (
  JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] }
).entries.length

/**
 * Opens storage: Postgres through postgres.js when `url` is given, else embedded PGlite in
 * `dataDir` (or in memory). Call `migrate()` before use; `close()` when done.
 */
export async function createStores(options: CreateStoresOptions = {}): Promise<PersistentStores> {
  const driver = await guarded(() => connect(options))
  const { db } = driver
  const events = new PgEventLog(db)
  let bus: LocalBus | NotifyBus
  if (driver.kind === 'postgres') {
    const notifyBus = new NotifyBus(
      driver.client,
      (turnId, afterSeq, limit) => events.readAfter(turnId, afterSeq, limit),
      options.bus,
    )
    await guarded(() => notifyBus.start())
    bus = notifyBus
  } else {
    bus = new LocalBus()
  }
  // The sweep appends `turn.interrupted` to the log; publishing it ends attached readers too.
  const turns = new PgTurnStore(db, (interrupted) => {
    for (const event of interrupted) bus.publish(event.turnId, [event])
  })
  let closed = false
  return {
    driver: driver.kind,
    db,
    users: new PgUserStore(db),
    conversations: new PgConversationStore(db),
    turns,
    events,
    usage: new PgUsageStore(db),
    bus,
    migrate: () => guarded(() => driver.migrate()),
    async ready() {
      try {
        const [row] = await rawRows<{ applied: number }>(
          db,
          sql`select count(*)::int as applied from drizzle.__drizzle_migrations`,
        )
        return Number(row?.applied ?? 0) >= MIGRATION_COUNT
      } catch {
        return false
      }
    },
    async close() {
      if (closed) return
      closed = true
      if (bus instanceof NotifyBus) await bus.close()
      if (driver.kind === 'postgres') await driver.client.end({ timeout: 5 })
      else await driver.client.close()
    },
  }
}
