import {
  type ContextItem,
  type Item,
  type ItemBody,
  itemBody,
  type Turn,
  type TurnError,
  type TurnSettings,
  type TurnStatus,
  type Usage,
} from '@parley/core'
import { type SQL, sql } from 'drizzle-orm'
import { BODY_SEPARATOR, decodeBody, encodeBody } from '../item-body.ts'
import { toItem } from '../mappers.ts'
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

/** The item columns a row of a turn's hot path carries, named apart from the turn's. */
export const ITEM_COLUMNS = sql`id as item_id, conversation_id as item_conversation_id, turn_id as item_turn_id,
  seq as item_seq, side as item_side, token_count as item_token_count, ${ms('created_at')} as item_created_ms,
  body as item_body`

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

/** An item under `ITEM_COLUMNS` names; all null on the row of a turn without items. */
export interface RawItem {
  item_id: string | null
  item_conversation_id: string
  item_turn_id: string
  item_seq: number
  item_side: 'input' | 'output'
  item_token_count: number
  item_created_ms: number
  /** The body as stored (`items.body`, see `item-body.ts`). */
  item_body: string
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

/** Items of raw rows (rows without an item skipped), in seq order. */
export function rawItems(rows: readonly RawItem[]): Item[] {
  const found: Item[] = []
  for (const row of rows) {
    if (row.item_id === null) continue
    found.push(
      toItem({
        body: decodeBody(row.item_body),
        id: row.item_id,
        conversationId: row.item_conversation_id,
        turnId: row.item_turn_id,
        seq: row.item_seq,
        side: row.item_side,
        tokenCount: row.item_token_count,
        createdAt: new Date(row.item_created_ms),
      }),
    )
  }
  return found.sort((a, b) => a.seq - b.seq)
}

/** What a context needs of a stored item. */
export function contextItem(item: Item): ContextItem {
  return { body: itemBody(item), turnId: item.turnId, tokenCount: item.tokenCount }
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
             ${body.type === 'message' ? body.role : null}::text, ${encodeBody(body)}::text,
             ${counts[index] ?? 0}::int)`,
    ),
    sql`, `,
  )
}

/**
 * The context of `turnId` (ancestors' items, then its own input) as one row of four lists, for a
 * statement whose WITH RECURSIVE list holds the turn's `chain` (chain.ts): a subquery to select
 * from or join laterally. One index range of `items_chain` per segment — a lateral subquery per
 * segment (`offset 0` keeps the planner from flattening it), because the planner cannot tell how
 * short a recursive walk is and would otherwise hash-join a scan of the whole items table, making
 * a short context cost as much as the table is large. Each list joins one column of those rows,
 * in the same row order: the stored bodies (copied as they are, joined by U+0001, which no stored
 * body contains: see `item-body.ts`), the turn ids, the token counts and the seqs. `contextItems`
 * cuts each list apart once. A context item is only what a turn needs (body, turn id, token
 * count): a fraction of a whole `Item`'s bytes. The ranges come out segment by segment, each in
 * seq order; `contextItems` merges those runs, which costs less than sorting the wide rows in
 * SQL. `when`, if given, is a condition on the statement's other tables under which the read is
 * needed at all; when false, the items are never read and the lists are null.
 */
export function contextColumns(turnId: string, when?: SQL): SQL {
  return sql`(select string_agg(x.body, chr(1)) as bodies, string_agg(x.turn_id, ',') as turn_ids,
      string_agg(x.token_count::text, ',') as token_counts, string_agg(x.seq::text, ',') as seqs
    from chain cross join lateral (
      select i.body, i.turn_id, i.token_count, i.seq from items i
      where ${ON_CHAIN_ITEMS} and (i.turn_id <> ${turnId} or i.side = 'input')
      offset 0
    ) x${when ? sql` where ${when}` : sql``})`
}

/** The row of `contextColumns`: all null when the context is empty (or not read). */
export interface ContextColumns {
  bodies: string | null
  turn_ids: string | null
  token_counts: string | null
  seqs: string | null
}

/**
 * The context items of a `contextColumns` row (none when its lists are null, or were not
 * selected), in seq order. One `split` or `JSON.parse` per list whatever the length, then each
 * body decoded (most without a JSON parse); turn ids are server-minted (`resp_` and letters and
 * digits), so a comma separates them unambiguously.
 */
export function contextItems(row: Partial<ContextColumns>): ContextItem[] {
  if (row.bodies == null || row.turn_ids == null || row.token_counts == null || row.seqs == null) return []
  const bodies = row.bodies.split(BODY_SEPARATOR)
  const turnIds = row.turn_ids.split(',')
  const counts = JSON.parse(`[${row.token_counts}]`) as number[]
  const seqs = JSON.parse(`[${row.seqs}]`) as number[]
  const items: ContextItem[] = new Array(bodies.length)
  let turnId = ''
  let sorted = true
  for (let k = 0; k < bodies.length; k++) {
    // Items of a turn are neighbours: they share one string instead of a copy each.
    const id = turnIds[k] ?? ''
    if (id !== turnId) turnId = id
    items[k] = { body: decodeBody(bodies[k] ?? ''), turnId, tokenCount: counts[k] ?? 0 }
    if (k > 0 && (seqs[k] ?? 0) < (seqs[k - 1] ?? 0)) sorted = false
  }
  if (sorted) return items
  const order = items.map((_, k) => k).sort((a, b) => (seqs[a] ?? 0) - (seqs[b] ?? 0))
  return order.map((k) => items[k] as ContextItem)
}
