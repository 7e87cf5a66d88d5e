import type { Item, ItemBody, Turn, TurnError, TurnSettings, TurnStatus, Usage } from '@parley/core'
import { type SQL, sql } from 'drizzle-orm'
import { ON_CHAIN_ITEMS } from './chain.ts'

/**
 * The statements of a turn's hot path (claim, start, finish), each written as one statement
 * with data-modifying CTEs: one round trip, atomic without BEGIN/COMMIT, and nothing read back
 * that the statement itself can return. Timestamps travel as epoch milliseconds (float8) so that
 * both drivers hand back plain numbers, whatever their date parsing.
 */

const ms = (column: string) => sql.raw(`(extract(epoch from ${column}) * 1000)::float8`)

/** The turn columns a `Turn` needs, for `returning` or a select from `turns`. */
export const TURN_COLUMNS = sql`id, conversation_id, parent_turn_id, request_id, status, provider, model,
  instructions, settings, usage, error, upstream_response_id, truncated, segment_id, depth,
  ${ms('created_at')} as created_ms, ${ms('completed_at')} as completed_ms`

/** The item column a row of a turn's hot path carries: the stored `Item` JSON (`items.doc`). */
export const ITEM_COLUMNS = sql`doc as item_doc`

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
  segment_id: string
  depth: number
  created_ms: number
  completed_ms: number | null
}

/** An item under `ITEM_COLUMNS` names; null on the row of a turn without items. */
export interface RawItem {
  item_doc: string | null
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

/** Items of raw rows in seq order. */
export function rawItems(rows: readonly RawItem[]): Item[] {
  const docs: string[] = []
  for (const row of rows) if (row.item_doc !== null) docs.push(row.item_doc)
  return parseDocs(docs.join(','))
}

/** Items of comma-joined `items.doc` texts, in seq order: one `JSON.parse`, no per-item work. */
export function parseDocs(docs: string): Item[] {
  if (docs === '') return []
  const items = JSON.parse(`[${docs}]`) as Item[]
  // Usually in order already (or a few sorted runs), which the sort checks in one pass.
  return items.sort((a, b) => a.seq - b.seq)
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
 * The context of `turnId` (ancestors' items, then its own input) as one `docs` column, for a
 * statement whose WITH RECURSIVE list holds the turn's `chain` (chain.ts): a scalar subquery,
 * or after a lateral join. One index range of `items_chain` per segment — a lateral subquery
 * per segment (`offset 0` keeps the planner from flattening it), because the planner cannot
 * tell how short a recursive walk is and would otherwise hash-join a scan of the whole items
 * table, making a short context cost as much as the table is large — and the stored `Item` JSON of each
 * row joined into one string: the server only copies text (no per-row conversion), the driver
 * decodes one string and `parseDocs` builds every item in one `JSON.parse`. The ranges come out
 * segment by segment, each in seq order; `parseDocs` merges those runs, which costs less than
 * sorting the wide rows in SQL.
 */
export function contextDocs(turnId: string): SQL {
  return sql`(select string_agg(x.doc, ',') as docs
    from chain cross join lateral (
      select i.doc from items i where ${ON_CHAIN_ITEMS} and (i.turn_id <> ${turnId} or i.side = 'input')
      offset 0
    ) x)`
}

/** The row of `contextDocs`: null when the context is empty. */
export interface ContextDocs {
  docs: string | null
}

/** The items of a `contextDocs` row, in seq order. */
export function contextItems(row: ContextDocs): Item[] {
  return row.docs === null ? [] : parseDocs(row.docs)
}
