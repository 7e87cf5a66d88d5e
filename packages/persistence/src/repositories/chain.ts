import { type SQL, sql } from 'drizzle-orm'

/**
 * The ancestors of a turn as one recursive CTE: `chain(id, parent_turn_id, n)`, n = 0 for the
 * start turn and growing towards the root. The anchor is scoped by user, and a parent always
 * belongs to the same conversation, so the whole chain is the user's.
 */
export function chainFromTurn(userId: string, turnId: string): SQL {
  return sql`with recursive chain(id, parent_turn_id, n) as (
    select t.id, t.parent_turn_id, 0 from turns t where t.id = ${turnId} and t.user_id = ${userId}
    union all
    select t.id, t.parent_turn_id, c.n + 1 from turns t join chain c on t.id = c.parent_turn_id
  )`
}

/** The chain ending at a conversation's head (the current branch). */
export function chainFromHead(userId: string, conversationId: string): SQL {
  return sql`with recursive chain(id, parent_turn_id, n) as (
    select t.id, t.parent_turn_id, 0 from conversations c join turns t on t.id = c.head_turn_id
    where c.id = ${conversationId} and c.user_id = ${userId} and c.deleted_at is null
    union all
    select t.id, t.parent_turn_id, c.n + 1 from turns t join chain c on t.id = c.parent_turn_id
  )`
}
