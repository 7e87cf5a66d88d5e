import type { Item, ItemBody, Turn, TurnError, TurnSettings, TurnStatus, Usage } from '@parley/core'
import { type SQL, sql } from 'drizzle-orm'

/**
 * The statements of a turn's hot path (claim, start, finish), each written as one statement
 * with data-modifying CTEs: one round trip, atomic without BEGIN/COMMIT, and nothing read back
 * that the statement itself can return. Timestamps travel as epoch milliseconds (float8) so that
 * both drivers hand back plain numbers, whatever their date parsing.
 */

const ms = (column: string) => sql.raw(`(extract(epoch from ${column}) * 1000)::float8`)

/** The turn columns a `Turn` needs, for `returning` or a select from `turns`. */
export const TURN_COLUMNS = sql`id, conversation_id, parent_turn_id, request_id, status, provider, model,
  instructions, settings, usage, error, upstream_response_id, truncated,
  ${ms('created_at')} as created_ms, ${ms('completed_at')} as completed_ms`

/** Item columns under `item_` names, so that they sit beside a turn's columns in one row. */
export const ITEM_COLUMNS = sql`id as item_id, turn_id as item_turn_id, seq as item_seq, side as item_side,
  body as item_body, token_count as item_token_count, ${ms('created_at')} as item_created_ms`

export interface RawTurn {
  id: string
  conversation_id: string
  parent_turn_id: string | null
  request_id: string
  status: TurnStatus
  provider: string
  model: string
  instructions: string | null
  settings: TurnSettings
  usage: Usage | null
  error: TurnError | null
  upstream_response_id: string | null
  truncated: boolean
  created_ms: number
  completed_ms: number | null
}

/** An item under `ITEM_COLUMNS` names; all null on the row of a turn without items. */
export interface RawItem {
  item_id: string | null
  item_turn_id: string
  item_seq: number
  item_side: 'input' | 'output'
  item_body: ItemBody
  item_token_count: number
  item_created_ms: number
}

const iso = (value: number) => new Date(value).toISOString()

export function rawTurn(row: RawTurn): Turn {
  return {
    id: row.id,
    conversationId: row.conversation_id,
    parentTurnId: row.parent_turn_id,
    requestId: row.request_id,
    status: row.status,
    provider: row.provider,
    model: row.model,
    instructions: row.instructions,
    settings: row.settings,
    usage: row.usage,
    error: row.error,
    upstreamResponseId: row.upstream_response_id,
    truncated: row.truncated,
    createdAt: iso(row.created_ms),
    completedAt: row.completed_ms === null ? null : iso(row.completed_ms),
  }
}

/**
 * Items of raw rows in seq order. Items written together share a timestamp: each distinct one
 * is formatted once. The parsed body is a fresh object, so it is completed in place.
 */
export function rawItems(rows: readonly RawItem[], conversationId: string): Item[] {
  const present = rows.filter((row) => row.item_id !== null)
  present.sort((a, b) => a.item_seq - b.item_seq)
  let lastMs = Number.NaN
  let lastIso = ''
  return present.map((row) => {
    if (row.item_created_ms !== lastMs) {
      lastMs = row.item_created_ms
      lastIso = iso(lastMs)
    }
    return Object.assign(row.item_body, {
      id: row.item_id,
      conversationId,
      turnId: row.item_turn_id,
      seq: row.item_seq,
      side: row.item_side,
      tokenCount: row.item_token_count,
      createdAt: lastIso,
    }) as Item
  })
}

/** `(id, ord, type, role, body, token_count)` rows for an items insert; `ord` counts from 0. */
export function itemValues(
  bodies: readonly ItemBody[],
  ids: readonly string[],
  counts: readonly number[],
): SQL {
  return sql.join(
    bodies.map(
      (body, index) =>
        sql`(${ids[index]}::text, ${index}::int, ${body.type}::text,
             ${body.type === 'message' ? body.role : null}::text, ${JSON.stringify(body)}::jsonb,
             ${counts[index] ?? 0}::int)`,
    ),
    sql`, `,
  )
}

/**
 * The context of `turnId` (ancestors' items, then its own input) as a recursive CTE body plus
 * select, for a statement whose WITH list is already open. Only the columns an `Item` needs.
 */
export function chainItemsCte(userId: string, turnId: string): SQL {
  return sql`chain(id, parent_turn_id) as (
    select t.id, t.parent_turn_id from turns t where t.id = ${turnId} and t.user_id = ${userId}
    union all
    select t.id, t.parent_turn_id from turns t join chain c on t.id = c.parent_turn_id
  )`
}

export function chainItemsWhere(turnId: string, conversationId: SQL): SQL {
  return sql`i.conversation_id = ${conversationId}
    and i.turn_id in (select id from chain)
    and (i.turn_id <> ${turnId} or i.side = 'input')`
}

export const CHAIN_ITEM_COLUMNS = sql`i.id as item_id, i.turn_id as item_turn_id, i.seq as item_seq,
  i.side as item_side, i.body as item_body, i.token_count as item_token_count,
  ${ms('i.created_at')} as item_created_ms`
