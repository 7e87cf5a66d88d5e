import {
  type EventLog,
  eventId,
  jsonProblem,
  NotFoundError,
  type TurnEvent,
  ValidationError,
} from '@parley/core'
import { and, inArray, lt, sql } from 'drizzle-orm'
import { type Executor, preparedRows } from '../db.ts'
import { guarded } from '../errors.ts'
import { turnEventBatches, turns } from '../schema.ts'
import { isId } from '../validate.ts'

/** A stored batch holds at most this many events, and this many characters unless one event is larger. */
const BATCH_EVENTS = 2000
const BATCH_CHARS = 16_000_000
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
      const batches = toBatches(events, texts)
      if (batches.length === 0) return
      if (batches.length === 1) return this.#appendBatch(this.db, batches[0] as EventBatch)
      // Several turns or a very large batch: all stored or none.
      await this.db.transaction(async (tx) => {
        for (const batch of batches) await this.#appendBatch(tx, batch)
      })
    })
  }

  /**
   * One row. The log has no foreign key (see schema.ts): a batch naming a turn that does not
   * exist is refused here instead. The same batch appended again is ignored.
   */
  async #appendBatch(db: Executor, batch: EventBatch): Promise<void> {
    const [row] = await preparedRows<{ known: boolean }>(
      db,
      sql`with t as (select exists (select 1 from turns where id = ${batch.turnId}) as known),
          ins as (
            insert into turn_event_batches (turn_id, first_seq, last_seq, events)
            select ${batch.turnId}, ${batch.firstSeq}::int, ${batch.lastSeq}::int, ${batch.events}::text
            from t where t.known
            on conflict do nothing
          )
          select known from t`,
    )
    if (!row?.known) throw new NotFoundError('turn')
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
      const rows = await preparedRows<{ events: string }>(
        this.db,
        sql`select events from turn_event_batches where turn_id = ${turnId} and last_seq > ${Math.min(afterSeq, 2_000_000_000)}::int
            order by first_seq, last_seq`,
      )
      return eventsAfter(
        rows.map((row) => row.events),
        afterSeq,
        Math.min(limit, MAX_READ),
      )
    })
  }

  /** Deletes the logs of turns that ended before `before`; answers how many stored events went. */
  prune(before: Date): Promise<number> {
    return guarded(async () => {
      if (!(before instanceof Date) || Number.isNaN(before.getTime())) {
        throw new ValidationError([{ path: 'before', message: 'must be a valid date' }])
      }
      const deleted = await this.db
        .delete(turnEventBatches)
        .where(
          inArray(
            turnEventBatches.turnId,
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
        .returning({ firstSeq: turnEventBatches.firstSeq, lastSeq: turnEventBatches.lastSeq })
      return deleted.reduce((sum, batch) => sum + batch.lastSeq - batch.firstSeq + 1, 0)
    })
  }
}

export interface EventBatch {
  turnId: string
  firstSeq: number
  lastSeq: number
  /** The batch's events as one JSON array, in seq order. */
  events: string
}

/**
 * Checked events (and their JSON texts) as stored rows: one per turn, in seq order, with a seq
 * given twice kept once, cut at BATCH_EVENTS events or BATCH_CHARS characters.
 */
export function toBatches(events: TurnEvent[], texts: string[]): EventBatch[] {
  const byTurn = new Map<string, { seq: number; text: string }[]>()
  events.forEach((event, index) => {
    let list = byTurn.get(event.turnId)
    if (!list) {
      list = []
      byTurn.set(event.turnId, list)
    }
    list.push({ seq: event.seq, text: texts[index] as string })
  })
  const batches: EventBatch[] = []
  for (const [turnId, list] of byTurn) {
    list.sort((a, b) => a.seq - b.seq)
    let chunk: { seq: number; text: string }[] = []
    let chars = 0
    const cut = () => {
      if (chunk.length === 0) return
      batches.push({
        turnId,
        firstSeq: chunk[0]?.seq ?? 0,
        lastSeq: chunk[chunk.length - 1]?.seq ?? 0,
        events: `[${chunk.map((entry) => entry.text).join(',')}]`,
      })
      chunk = []
      chars = 0
    }
    list.forEach((entry, index) => {
      if (index > 0 && entry.seq === list[index - 1]?.seq) return
      if (chunk.length >= BATCH_EVENTS || chars + entry.text.length > BATCH_CHARS) cut()
      chunk.push(entry)
      chars += entry.text.length + 1
    })
    cut()
  }
  return batches
}

/**
 * The events after `afterSeq` in stored batches (in `first_seq`, `last_seq` order): in seq
 * order, each seq once (the first copy in that order; a retried batch repeats the same events),
 * at most `limit`.
 */
export function eventsAfter(batches: string[], afterSeq: number, limit: number): TurnEvent[] {
  const out: TurnEvent[] = []
  let last = afterSeq
  for (const batch of batches) {
    for (const event of JSON.parse(batch) as TurnEvent[]) {
      if (event.seq <= last) continue
      out.push(event)
      last = event.seq
      if (out.length >= limit) return out
    }
  }
  return out
}
