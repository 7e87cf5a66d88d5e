import {
  type EventLog,
  eventId,
  jsonProblem,
  NotFoundError,
  type TurnEvent,
  ValidationError,
} from '@parley/core'
import { and, asc, eq, gt, inArray, lt, sql } from 'drizzle-orm'
import { type Executor, preparedRows } from '../db.ts'
import { guarded } from '../errors.ts'
import { turnEvents, turns } from '../schema.ts'
import { isId } from '../validate.ts'

const APPEND_CHUNK = 2000
const MAX_READ = 10_000
const MAX_EVENT_CHARS = 4_000_000

/** Checks one event and answers its JSON text. */
export function checkEvent(event: TurnEvent, index: number): string {
  const fail = (message: string) => new ValidationError([{ path: `events.${index}`, message }])
  if (!isId('resp', event.turnId)) throw fail('turnId must be a resp_… id')
  if (!Number.isSafeInteger(event.seq) || event.seq < 1 || event.seq > 2_000_000_000) {
    throw fail('seq must be a positive integer')
  }
  if (event.id !== eventId(event.turnId, event.seq)) throw fail('id must be "<turnId>:<seq>"')
  const problem = jsonProblem(event)
  if (problem) throw fail(problem)
  const json = JSON.stringify(event)
  if (json.length > MAX_EVENT_CHARS) throw fail('is too large')
  return json
}

export class PgEventLog implements EventLog {
  constructor(private readonly db: Executor) {}

  append(events: TurnEvent[]): Promise<void> {
    return guarded(async () => {
      const texts = events.map(checkEvent)
      // One statement text whatever the batch size (so it is prepared once), one JSON
      // parameter holding the batch: the events are already serialized for the size check.
      // The log has no foreign key (see schema.ts): a batch naming a turn that does not exist
      // is refused whole here instead.
      for (let start = 0; start < texts.length; start += APPEND_CHUNK) {
        const batch = `[${texts.slice(start, start + APPEND_CHUNK).join(',')}]`
        const [row] = await preparedRows<{ unknown: boolean }>(
          this.db,
          sql`with e as (select x, x->>'turnId' as turn_id from jsonb_array_elements(${batch}::jsonb) as x),
              unknown as (select 1 from e where not exists (select 1 from turns t where t.id = e.turn_id)),
              ins as (
                insert into turn_events (turn_id, seq, event)
                select e.turn_id, (e.x->>'seq')::int, e.x from e where not exists (select 1 from unknown)
                on conflict do nothing
              )
              select exists (select 1 from unknown) as unknown`,
        )
        if (row?.unknown) throw new NotFoundError('turn')
      }
    })
  }

  readAfter(turnId: string, afterSeq: number, limit = MAX_READ): Promise<TurnEvent[]> {
    return guarded(async () => {
      if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) {
        throw new ValidationError([{ path: 'afterSeq', message: 'must be a non-negative integer' }])
      }
      if (!Number.isSafeInteger(limit) || limit < 1) {
        throw new ValidationError([{ path: 'limit', message: 'must be a positive integer' }])
      }
      if (!isId('resp', turnId)) return []
      const rows = await this.db
        .select({ event: turnEvents.event })
        .from(turnEvents)
        .where(and(eq(turnEvents.turnId, turnId), gt(turnEvents.seq, Math.min(afterSeq, 2_000_000_000))))
        .orderBy(asc(turnEvents.seq))
        .limit(Math.min(limit, MAX_READ))
      return rows.map((row) => row.event as TurnEvent)
    })
  }

  prune(before: Date): Promise<number> {
    return guarded(async () => {
      if (!(before instanceof Date) || Number.isNaN(before.getTime())) {
        throw new ValidationError([{ path: 'before', message: 'must be a valid date' }])
      }
      const deleted = await this.db
        .delete(turnEvents)
        .where(
          inArray(
            turnEvents.turnId,
            this.db
              .select({ id: turns.id })
              .from(turns)
              .where(
                and(
                  inArray(turns.status, ['completed', 'failed', 'cancelled', 'interrupted']),
                  lt(turns.completedAt, before),
                ),
              ),
          ),
        )
        .returning({ seq: turnEvents.seq })
      return deleted.length
    })
  }
}
