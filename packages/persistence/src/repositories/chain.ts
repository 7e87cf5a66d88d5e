import { type SQL, sql } from 'drizzle-orm'

/**
 * The chain of a turn (its ancestors and itself) as segment ranges, for a statement whose WITH
 * RECURSIVE list is open: `chain(segment_id, depth)`, one row per segment on the path, the
 * turn's own first. The turns of the chain are those with `segment_id = chain.segment_id and
 * depth <= chain.depth` (see `schema.ts`), so the walk takes one step per branch point, not one
 * per ancestor: a segment's first turn (`id = segment_id`) names the branch point as its parent.
 * The anchor is scoped by user, and a parent always belongs to the same conversation, so the
 * whole chain is the user's.
 */
export function chainFromTurn(userId: string, turnId: string): SQL {
  return chainFrom(
    sql`select t.segment_id, t.depth from turns t where t.id = ${turnId} and t.user_id = ${userId}`,
  )
}

/** The chain ending at a conversation's head (the current branch). */
export function chainFromHead(userId: string, conversationId: string): SQL {
  return chainFrom(sql`select t.segment_id, t.depth from conversations c join turns t on t.id = c.head_turn_id
    where c.id = ${conversationId} and c.user_id = ${userId} and c.deleted_at is null`)
}

function chainFrom(anchor: SQL): SQL {
  return sql`chain(segment_id, depth) as (
    ${anchor}
    union all
    select p.segment_id, p.depth from chain c
      join turns s on s.id = c.segment_id
      join turns p on p.id = s.parent_turn_id
  )`
}

/** Joins `turns t` to the chain: the turns on it. */
export const ON_CHAIN_TURNS = sql`t.segment_id = chain.segment_id and t.depth <= chain.depth`

/** Joins `items i` to the chain: the items of its turns. */
export const ON_CHAIN_ITEMS = sql`i.segment_id = chain.segment_id and i.turn_depth <= chain.depth`

/**
 * Where a new turn goes under `parent` (an expression naming a turn id, or null for a root):
 * its parent's segment at the next depth when the parent has no child there yet, else a segment
 * of its own. The read is the statement's snapshot: a child claimed at the same moment may not be
 * visible yet, and then the unique (segment_id, depth) index refuses the second one.
 */
export function placement(turnId: string, parent: SQL): { segmentId: SQL; depth: SQL } {
  const continues = sql`(select p.segment_id from turns p where p.id = ${parent}
    and not exists (select 1 from turns k where k.segment_id = p.segment_id and k.depth = p.depth + 1))`
  return {
    segmentId: sql`coalesce(${continues}, ${turnId}::text)`,
    depth: sql`coalesce((select p.depth + 1 from turns p where p.id = ${parent}), 0)`,
  }
}
