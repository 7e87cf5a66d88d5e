import {
  type BranchTurn,
  type ClaimResult,
  type ClaimTurnInput,
  type ContextItem,
  eventId,
  type FinishTurnInput,
  InputItems,
  type Item,
  ItemBody,
  isTerminal,
  LIMITS,
  NotFoundError,
  newId,
  type Page,
  PageInput,
  ParleyError,
  RequestId,
  safeText,
  type Turn,
  TurnError,
  type TurnEvent,
  type TurnEventBody,
  TurnSettings,
  type TurnStore,
  type TurnWithItems,
  Usage,
  ValidationError,
} from '@parley/core'
import { and, asc, eq, inArray, isNull, or, type SQL, sql } from 'drizzle-orm'
import { z } from 'zod'
import { type Executor, preparedRows, rawRows } from '../db.ts'
import { guarded } from '../errors.ts'
import { type TurnRow, toTurn } from '../mappers.ts'
import { conversations, items, turnEventBatches, turns, usageLedger } from '../schema.ts'
import { check, checkInstant, checkItemIds, checkTokenCounts, isId } from '../validate.ts'
import { chainFromHead, chainFromTurn, ON_CHAIN_TURNS, placement } from './chain.ts'
import { ChainCache } from './chain-cache.ts'
import { checkEvent, eventsAfter, toBatches } from './events.ts'
import {
  type ContextColumns,
  contextColumns,
  contextItem,
  contextItems,
  ITEM_COLUMNS,
  itemValues,
  type RawItem,
  type RawTurn,
  rawItems,
  rawTurn,
  TURN_COLUMNS,
} from './hot-path.ts'
import { allocateSeqs, insertItems, insertOutput, itemsOfTurns, splitBySide } from './items.ts'

const RUNNING = ['pending', 'streaming'] as const

/** The input items a claim stored: its `ITEM_COLUMNS` rows as one JSON array. */
interface InputRows {
  input_rows: RawItem[] | null
}
/** Inserts tried when siblings keep taking the chosen place: each loss means one more exists. */
const PLACEMENT_ATTEMPTS = 3
const OutputItems = z.array(ItemBody).max(10_000)
const Fingerprint = safeText(512).min(1)
const ProviderName = safeText(128).min(1)
const ModelName = safeText(128).min(1)
const Instructions = safeText(LIMITS.maxInstructionsChars).nullable()
const FinishStatus = z.enum(['completed', 'failed', 'cancelled'])
const MaybeUsage = Usage.nullable()
const MaybeTurnError = TurnError.nullable()
const UpstreamResponseId = safeText(512).nullable()
const Flag = z.boolean()
const LedgerEntry = z.object({
  provider: ProviderName,
  model: safeText(128),
  upstreamResponseId: safeText(512).min(1),
  usage: Usage,
})
const Ledger = z.array(LedgerEntry).max(1000)

function leaseUntil(leaseMs: number) {
  if (!Number.isFinite(leaseMs) || leaseMs < 0 || leaseMs > 7 * 24 * 3600_000) {
    throw new ValidationError([{ path: 'leaseMs', message: 'must be between 0 and one week in ms' }])
  }
  return sql`now() + (${Math.round(leaseMs)}::double precision * interval '1 millisecond')`
}

async function withItems(executor: Executor, row: TurnRow): Promise<TurnWithItems> {
  const rows = await itemsOfTurns(executor, [row.id])
  return { turn: toTurn(row), ...splitBySide(rows, row.id) }
}

/** What a request id that is already taken answers. */
async function replay(executor: Executor, row: TurnRow, fingerprint: string): Promise<ClaimResult> {
  if (row.fingerprint !== fingerprint) return { status: 'conflict', reason: 'idempotency_key_reused' }
  if (!isTerminal(row.status)) return { status: 'in_flight', turn: toTurn(row) }
  const { turn, input, output } = await withItems(executor, row)
  return { status: 'completed', turn, input, output }
}

export interface SweepResult {
  turns: Turn[]
  /** The `turn.interrupted` events appended to the log, for live delivery. */
  events: TurnEvent[]
}

export class PgTurnStore implements TurnStore {
  /** Conversations' latest chains: a turn started under one reads only its own input. */
  readonly #chains = new ChainCache()

  constructor(
    private readonly db: Executor,
    private readonly onInterrupted: (events: TurnEvent[]) => void = () => {},
  ) {}

  claim(input: ClaimTurnInput): Promise<ClaimResult> {
    return guarded(async () => {
      if (!isId('user', input.userId) || !isId('conv', input.conversationId)) return { status: 'not_found' }
      if (input.parentTurnId !== null && !isId('resp', input.parentTurnId)) return { status: 'not_found' }
      const requestId = check('requestId', RequestId, input.requestId)
      const fingerprint = check('fingerprint', Fingerprint, input.fingerprint)
      const bodies = check('input', InputItems, input.input)
      const counts = checkTokenCounts('inputTokenCounts', input.inputTokenCounts, bodies.length)
      const provider = check('provider', ProviderName, input.provider)
      const model = check('model', ModelName, input.model)
      const instructions = check('instructions', Instructions, input.instructions)
      const settings = check('settings', TurnSettings, input.settings)
      const lease = leaseUntil(input.leaseMs)
      const fromHead = input.parentFromHead === true

      const fast = await this.#claimAtOnce({
        userId: input.userId,
        conversationId: input.conversationId,
        parentTurnId: input.parentTurnId,
        fromHead,
        requestId,
        fingerprint,
        bodies,
        counts,
        provider,
        model,
        instructions,
        settings,
        lease,
        setHead: input.setHead,
        start: input.start === true,
      })
      if (fast) return fast

      // Not claimed at once: the request id is taken, the conversation is busy or unknown. The
      // transaction below tells which (and claims after all if the obstacle is gone by now).
      return this.db.transaction(async (tx) => {
        const byRequestId = () =>
          tx
            .select()
            .from(turns)
            .where(and(eq(turns.userId, input.userId), eq(turns.requestId, requestId)))
            .then((rows) => rows[0])

        const [target] = await tx
          .select({
            id: conversations.id,
            head: conversations.headTurnId,
            parentOk:
              input.parentTurnId === null
                ? sql<boolean>`true`
                : sql<boolean>`exists (select 1 from turns p where p.id = ${input.parentTurnId}
                    and p.conversation_id = ${input.conversationId} and p.user_id = ${input.userId})`,
          })
          .from(conversations)
          .where(
            and(
              eq(conversations.id, input.conversationId),
              eq(conversations.userId, input.userId),
              isNull(conversations.deletedAt),
            ),
          )
        // A send after the head answers for its conversation first, as if it had been read first.
        if (!target && fromHead) return { status: 'not_found' }
        if (!target?.parentOk) {
          const existing = await byRequestId()
          return existing ? replay(tx, existing, fingerprint) : { status: 'not_found' }
        }
        const parentTurnId = input.parentTurnId ?? (fromHead ? target.head : null)

        // The unique indexes decide: (user_id, request_id) for the idempotency key, the partial
        // index on running turns for one writer per conversation, and (segment_id, depth) for the
        // place in the tree. ON CONFLICT keeps the transaction usable (a raised unique violation
        // would abort it on Postgres). Each statement reads a fresh snapshot: a sibling that took
        // the parent's segment meanwhile is seen by the next attempt, which starts a segment.
        let row: TurnRow | undefined
        for (let attempt = 0; attempt < PLACEMENT_ATTEMPTS && !row; attempt++) {
          const id = newId('resp')
          const place = placement(id, sql`${parentTurnId}::text`)
          ;[row] = await tx
            .insert(turns)
            .values({
              id,
              userId: input.userId,
              conversationId: input.conversationId,
              parentTurnId,
              segmentId: place.segmentId,
              depth: place.depth,
              requestId,
              fingerprint,
              status: input.start ? 'streaming' : 'pending',
              leaseExpiresAt: lease,
              provider,
              model,
              instructions,
              settings,
            })
            .onConflictDoNothing()
            .returning()
          if (row) break
          const existing = await byRequestId()
          if (existing) return replay(tx, existing, fingerprint)
          const [running] = await tx
            .select({ id: turns.id })
            .from(turns)
            .where(and(eq(turns.conversationId, input.conversationId), inArray(turns.status, [...RUNNING])))
          if (running) return { status: 'conflict', reason: 'conversation_busy' }
        }
        if (!row) return { status: 'conflict', reason: 'conversation_busy' }
        const firstSeq = await allocateSeqs(
          tx,
          input.conversationId,
          bodies.length,
          input.setHead ? { headTurnId: row.id } : {},
        )
        const stored = await insertItems(tx, {
          conversationId: input.conversationId,
          turnId: row.id,
          segmentId: row.segmentId,
          turnDepth: row.depth,
          side: 'input',
          bodies,
          tokenCounts: counts,
          firstSeq,
        })
        if (input.start !== true) return { status: 'claimed', turn: toTurn(row), input: stored }
        const [columns] = await rawRows<ContextColumns>(
          tx,
          sql`with recursive ${chainFromTurn(input.userId, row.id)} select x.* from ${contextColumns(row.id)} x`,
        )
        const context = columns ? contextItems(columns) : stored.map(contextItem)
        this.#chains.started(input.conversationId, row.id, context)
        return { status: 'claimed', turn: toTurn(row), input: stored, context }
      })
    })
  }

  /**
   * The claim as one statement: the conversation (and parent) check, the turn insert (ON
   * CONFLICT DO NOTHING on the request-id and busy indexes), the seq allocation and the input
   * items. Null when no turn was inserted; the caller then finds out why.
   */
  async #claimAtOnce(input: {
    userId: string
    conversationId: string
    parentTurnId: string | null
    fromHead: boolean
    requestId: string
    fingerprint: string
    bodies: ItemBody[]
    counts: number[]
    provider: string
    model: string
    instructions: string | null
    settings: TurnSettings
    lease: SQL
    setHead: boolean
    start: boolean
  }): Promise<ClaimResult | null> {
    const { userId, conversationId, parentTurnId, bodies } = input
    const turnId = newId('resp')
    const ids = bodies.map(() => newId('item'))
    const parent =
      parentTurnId !== null
        ? sql`${parentTurnId}::text`
        : input.fromHead
          ? sql`c.head_turn_id`
          : sql`null::text`
    const parentCheck =
      parentTurnId === null
        ? sql``
        : sql`and exists (select 1 from turns p where p.id = ${parentTurnId}
                and p.conversation_id = ${conversationId} and p.user_id = ${userId})`
    const place = placement(turnId, sql`target.parent_turn_id`)
    // A started turn's context: its ancestors (the chain of the parent it is claimed under, read
    // from the statement's snapshot, like the parent itself) and then its input, from `i`. When
    // the parent's chain is kept in memory (chain-cache.ts), the statement skips the read (its
    // condition on the parent is false, so the items are never scanned) and says so by the
    // parent it returns.
    const ancestors =
      !input.start || (parentTurnId === null && !input.fromHead)
        ? null
        : parentTurnId !== null
          ? chainFromTurn(userId, parentTurnId)
          : chainFromHead(userId, conversationId)
    const kept = !ancestors ? undefined : this.#keptParent(conversationId, parentTurnId)
    const ancestorColumns = !ancestors
      ? sql``
      : sql` left join lateral ${contextColumns(
          turnId,
          kept ? sql`t.parent_turn_id is distinct from ${kept.turnId}::text` : undefined,
        )} ctx on true`
    const rows = await preparedRows<
      RawTurn & InputRows & Partial<ContextColumns> & { parent_upstream_id?: string | null }
    >(
      this.db,
      sql`with recursive ${ancestors ?? sql``}${ancestors ? sql`, ` : sql``}target as (
            select ${parent} as parent_turn_id from conversations c
            where c.id = ${conversationId} and c.user_id = ${userId} and c.deleted_at is null ${parentCheck}
          ), t as (
            insert into turns (id, user_id, conversation_id, parent_turn_id, segment_id, depth, request_id,
              fingerprint, status, lease_expires_at, provider, model, instructions, settings)
            select ${turnId}, ${userId}, ${conversationId}, target.parent_turn_id, ${place.segmentId},
              ${place.depth}, ${input.requestId},
              ${input.fingerprint}, ${input.start ? 'streaming' : 'pending'}, ${input.lease}, ${input.provider},
              ${input.model},
              ${input.instructions}::text, ${JSON.stringify(input.settings)}::jsonb
            from target
            on conflict do nothing
            returning ${TURN_COLUMNS}
          ), c as (
            update conversations set item_seq = item_seq + ${bodies.length}, updated_at = now()
              ${input.setHead ? sql`, head_turn_id = ${turnId}` : sql``}
            where id = ${conversationId} and exists (select 1 from t)
            returning item_seq
          ), i as (
            insert into items (id, conversation_id, turn_id, segment_id, turn_depth, seq, side, type, role, body,
              token_count)
            select v.id, ${conversationId}, ${turnId}, t.segment_id, t.depth,
                   c.item_seq - ${bodies.length} + 1 + v.ord, 'input', v.type, v.role, v.body, v.token_count
            from c cross join t cross join (values ${itemValues(bodies, ids, input.counts)})
              as v(id, ord, type, role, body, token_count)
            returning ${ITEM_COLUMNS}
          )
          select t.*, (select json_agg(i) from i) as input_rows${ancestors ? sql`, ctx.*` : sql``}${
            // A started turn also learns its parent's upstream response id (when the parent
            // completed with one): a provider with native state continues from it, no read of its own.
            input.start
              ? sql`, (select p.upstream_response_id from turns p
                  where p.id = t.parent_turn_id and p.status = 'completed') as parent_upstream_id`
              : sql``
          }
          from t${ancestorColumns}`,
    )
    const first = rows[0]
    if (!first) return null
    const stored = rawItems(first.input_rows ?? [])
    const turn = rawTurn(first)
    if (!input.start) return { status: 'claimed', turn, input: stored }
    const parentUpstreamResponseId = first.parent_upstream_id ?? null
    let before: ContextItem[]
    if (kept && turn.parentTurnId === kept.turnId) {
      before = kept.items
    } else {
      before = contextItems(first)
      if (turn.parentTurnId !== null) this.#chains.read(conversationId, turn.parentTurnId, before)
    }
    const context = [...before, ...stored.map(contextItem)]
    this.#chains.started(conversationId, turn.id, context)
    return { status: 'claimed', turn, input: stored, context, parentUpstreamResponseId }
  }

  /** The kept chain of the parent a claim names, or of the conversation's latest turn (after the head). */
  #keptParent(
    conversationId: string,
    parentTurnId: string | null,
  ): { turnId: string; items: ContextItem[] } | undefined {
    if (parentTurnId === null) return this.#chains.latestOf(conversationId)
    const items = this.#chains.chainOf(parentTurnId)
    return items ? { turnId: parentTurnId, items } : undefined
  }

  get(userId: string, turnId: string): Promise<TurnWithItems | null> {
    return guarded(async () => {
      if (!isId('user', userId) || !isId('resp', turnId)) return null
      const [row] = await this.db
        .select()
        .from(turns)
        .where(and(eq(turns.id, turnId), eq(turns.userId, userId)))
      return row ? withItems(this.db, row) : null
    })
  }

  getByRequestId(userId: string, requestId: string): Promise<TurnWithItems | null> {
    return guarded(async () => {
      if (!isId('user', userId) || !RequestId.safeParse(requestId).success) return null
      const [row] = await this.db
        .select()
        .from(turns)
        .where(and(eq(turns.userId, userId), eq(turns.requestId, requestId)))
      return row ? withItems(this.db, row) : null
    })
  }

  fingerprintOf(userId: string, turnId: string): Promise<string | null> {
    return guarded(async () => {
      if (!isId('user', userId) || !isId('resp', turnId)) return null
      const [row] = await this.db
        .select({ fingerprint: turns.fingerprint })
        .from(turns)
        .where(and(eq(turns.id, turnId), eq(turns.userId, userId)))
      return row?.fingerprint ?? null
    })
  }

  markStreaming(turnId: string, leaseMs: number): Promise<boolean> {
    return guarded(async () => {
      if (!isId('resp', turnId)) return false
      const updated = await this.db
        .update(turns)
        .set({ status: 'streaming', leaseExpiresAt: leaseUntil(leaseMs) })
        .where(and(eq(turns.id, turnId), eq(turns.status, 'pending')))
        .returning({ id: turns.id })
      return updated.length > 0
    })
  }

  startStreaming(userId: string, turnId: string, leaseMs: number): Promise<ContextItem[] | null> {
    return guarded(async () => {
      if (!isId('user', userId) || !isId('resp', turnId)) return null
      const lease = leaseUntil(leaseMs)
      // One statement: the status change and the context read share a round trip. The chain
      // reads the turn as it was before the update, which changes neither segment nor depth.
      const [row] = await preparedRows<ContextColumns>(
        this.db,
        sql`with recursive m as (
              update turns set status = 'streaming', lease_expires_at = ${lease}
              where id = ${turnId} and user_id = ${userId} and status = 'pending'
              returning id
            ), ${chainFromTurn(userId, turnId)}
            select x.* from m cross join lateral ${contextColumns(turnId)} x`,
      )
      return row ? contextItems(row) : null
    })
  }

  renewLease(turnId: string, leaseMs: number): Promise<boolean> {
    return guarded(async () => {
      if (!isId('resp', turnId)) return false
      const updated = await this.db
        .update(turns)
        .set({ leaseExpiresAt: leaseUntil(leaseMs) })
        .where(and(eq(turns.id, turnId), inArray(turns.status, [...RUNNING])))
        .returning({ id: turns.id })
      return updated.length > 0
    })
  }

  appendOutput(
    turnId: string,
    bodies: ItemBody[],
    tokenCounts: number[],
    ids?: (string | undefined)[],
  ): Promise<Item[]> {
    return guarded(async () => {
      if (!isId('resp', turnId)) throw new NotFoundError('turn', turnId)
      const output = check('items', OutputItems, bodies)
      const counts = checkTokenCounts('tokenCounts', tokenCounts, output.length)
      const itemIds = checkItemIds('ids', ids, output.length)
      if (output.length === 0) return []
      return this.db.transaction(async (tx) => {
        const row = await lockTurn(tx, turnId)
        if (isTerminal(row.status)) throw notRunning(turnId)
        return insertOutput(tx, row, { bodies: output, tokenCounts: counts, ids: itemIds })
      })
    })
  }

  finish(turnId: string, input: FinishTurnInput): Promise<TurnWithItems> {
    return guarded(async () => {
      if (!isId('resp', turnId)) throw new NotFoundError('turn', turnId)
      const status = check('status', FinishStatus, input.status)
      const output = check('output', OutputItems, input.output)
      const counts = checkTokenCounts('outputTokenCounts', input.outputTokenCounts, output.length)
      const itemIds = checkItemIds('outputIds', input.outputIds, output.length)
      const usage = check('usage', MaybeUsage, input.usage)
      const ledger = check('ledger', Ledger, input.ledger)
      const error = check('error', MaybeTurnError, input.error)
      const upstreamResponseId = check('upstreamResponseId', UpstreamResponseId, input.upstreamResponseId)
      const truncated = check('truncated', Flag, input.truncated)
      const completedAt =
        input.completedAt === undefined ? null : checkInstant('completedAt', input.completedAt)
      const events = input.events ?? []
      const texts = events.map((event, index) => {
        if (event.turnId !== turnId) {
          throw new ValidationError([{ path: `events.${index}`, message: 'must be events of this turn' }])
        }
        return checkEvent(event, index)
      })
      const batches = toBatches(events, texts)

      const ids = output.map((_, index) => itemIds?.[index] ?? newId('item'))
      const itemsCte =
        output.length === 0
          ? sql``
          : sql`, i as (
              insert into items (id, conversation_id, turn_id, segment_id, turn_depth, seq, side, type, role,
                body, token_count)
              select v.id, cur.conversation_id, cur.id, cur.segment_id, cur.depth,
                     c.item_seq - ${output.length} + 1 + v.ord, 'output', v.type, v.role, v.body, v.token_count
              from cur cross join c cross join (values ${itemValues(output, ids, counts)})
                as v(id, ord, type, role, body, token_count)
              returning ${ITEM_COLUMNS}
            )`
      const ledgerCte =
        ledger.length === 0
          ? sql``
          : sql`, l as (
              insert into usage_ledger (user_id, turn_id, provider, model, upstream_response_id, input_tokens,
                output_tokens, total_tokens, cached_input_tokens, reasoning_tokens, estimated)
              select cur.user_id, cur.id, v.* from cur cross join (values ${sql.join(
                ledger.map(
                  (entry) =>
                    sql`(${entry.provider}::text, ${entry.model}::text, ${entry.upstreamResponseId}::text,
                         ${entry.usage.inputTokens}::int, ${entry.usage.outputTokens}::int,
                         ${entry.usage.totalTokens}::int, ${entry.usage.cachedInputTokens}::int,
                         ${entry.usage.reasoningTokens}::int, ${entry.usage.estimated}::boolean)`,
                ),
                sql`, `,
              )}) as v
              on conflict do nothing
            )`
      // Appended only when `f` ended the turn: after a sweep got there first, the log is the sweep's.
      const eventsCte =
        batches.length === 0
          ? sql``
          : sql`, ev as (
              insert into turn_event_batches (turn_id, first_seq, last_seq, events)
              select f.id, v.* from f cross join (values ${sql.join(
                batches.map(
                  (batch) => sql`(${batch.firstSeq}::int, ${batch.lastSeq}::int, ${batch.events}::text)`,
                ),
                sql`, `,
              )}) as v
              on conflict do nothing
            )`
      // One statement: lock the running turn (a sweep that got there first leaves no row), store
      // the rest of the output and the ledger, end the turn, append its last events, and return
      // it with all its items. The turn's earlier items are read from the statement's snapshot,
      // the new ones from `i`.
      const rows = await preparedRows<RawTurn & RawItem>(
        this.db,
        sql`with cur as (
              select id, user_id, conversation_id, segment_id, depth from turns
              where id = ${turnId} and status in ('pending', 'streaming')
              for update
            ), c as (
              update conversations set item_seq = item_seq + ${output.length}, updated_at = now()
              where id = (select conversation_id from cur)
              returning item_seq
            )${itemsCte}${ledgerCte}, f as (
              update turns set status = ${status}, usage = ${usage === null ? null : JSON.stringify(usage)}::jsonb,
                error = ${error === null ? null : JSON.stringify(error)}::jsonb,
                upstream_response_id = ${upstreamResponseId}::text, truncated = ${truncated},
                lease_expires_at = null, completed_at = coalesce(${completedAt}::timestamptz, now())
              where id in (select id from cur)
              returning ${TURN_COLUMNS}
            )${eventsCte}
            select f.*, x.* from f left join lateral (
              select ${ITEM_COLUMNS} from items where turn_id = f.id
              ${output.length === 0 ? sql`` : sql`union all select * from i`}
            ) x on true`,
      )
      const first = rows[0]
      if (first) {
        const stored = rawItems(rows)
        const ended = {
          turn: rawTurn(first),
          input: stored.filter((item) => item.side === 'input'),
          output: stored.filter((item) => item.side === 'output'),
        }
        this.#chains.finished(turnId, ended.output.map(contextItem))
        return ended
      }

      // Not running (finished by a cancel or a sweep first) or unknown: a finish changes nothing.
      return this.db.transaction(async (tx) => {
        const row = await lockTurn(tx, turnId)
        // A turn finishes once: a late finish (after a cancel or a sweep) changes nothing.
        if (isTerminal(row.status)) return withItems(tx, row)
        if (output.length > 0) {
          await insertOutput(tx, row, { bodies: output, tokenCounts: counts, ids: itemIds })
        } else {
          await tx
            .update(conversations)
            .set({ updatedAt: sql`now()` })
            .where(eq(conversations.id, row.conversationId))
        }
        if (ledger.length > 0) {
          await tx
            .insert(usageLedger)
            .values(
              ledger.map((entry) => ({
                userId: row.userId,
                turnId,
                provider: entry.provider,
                model: entry.model,
                upstreamResponseId: entry.upstreamResponseId,
                inputTokens: entry.usage.inputTokens,
                outputTokens: entry.usage.outputTokens,
                totalTokens: entry.usage.totalTokens,
                cachedInputTokens: entry.usage.cachedInputTokens,
                reasoningTokens: entry.usage.reasoningTokens,
                estimated: entry.usage.estimated,
              })),
            )
            .onConflictDoNothing()
        }
        const [finished] = await tx
          .update(turns)
          .set({
            status,
            usage,
            error,
            upstreamResponseId,
            truncated,
            leaseExpiresAt: null,
            completedAt: sql`now()`,
          })
          .where(eq(turns.id, turnId))
          .returning()
        return withItems(tx, finished ?? row)
      })
    })
  }

  /** The store's sweep: turns, and the interrupted events it appended. */
  sweep(running: readonly string[] = []): Promise<SweepResult> {
    return guarded(() =>
      this.db.transaction(async (tx) => {
        // SKIP LOCKED: several instances may sweep at once; a turn being finished right now
        // (row locked by finish) is not expired in any useful sense.
        const swept = await tx
          .update(turns)
          .set({
            status: 'interrupted',
            leaseExpiresAt: null,
            completedAt: sql`now()`,
            error: { reason: 'interrupted', message: 'The turn was interrupted: its process stopped' },
          })
          .where(
            inArray(
              turns.id,
              sql`(select id from turns where status in ('pending', 'streaming')
                   and lease_expires_at < now()
                   and id <> all(string_to_array(${running.join(',')}::text, ','))
                   for update skip locked)`,
            ),
          )
          .returning()
        if (swept.length === 0) return { turns: [], events: [] }
        const ids = swept.map((row) => row.id)
        await storeStreamedMessages(tx, swept)
        const outputs = await tx
          .select({ id: items.id, turnId: items.turnId, body: items.body })
          .from(items)
          .where(and(inArray(items.turnId, ids), eq(items.side, 'output')))
          .orderBy(asc(items.seq))
        const lastSeqs = await tx
          .select({
            turnId: turnEventBatches.turnId,
            seq: sql<number>`max(${turnEventBatches.lastSeq})`.mapWith(Number),
          })
          .from(turnEventBatches)
          .where(inArray(turnEventBatches.turnId, ids))
          .groupBy(turnEventBatches.turnId)
        const lastSeq = new Map(lastSeqs.map((entry) => [entry.turnId, entry.seq]))
        const events = swept.map((row) => {
          const seq = (lastSeq.get(row.id) ?? 0) + 1
          const body: TurnEventBody = {
            type: 'turn.interrupted',
            turn: toTurn(row),
            output: outputs
              .filter((item) => item.turnId === row.id)
              .map((item) => ({ ...item.body, id: item.id })),
          }
          return { ...body, id: eventId(row.id, seq), turnId: row.id, seq } as TurnEvent
        })
        await tx
          .insert(turnEventBatches)
          .values(
            toBatches(
              events,
              events.map((event) => JSON.stringify(event)),
            ),
          )
          .onConflictDoNothing()
        return { turns: swept.map(toTurn), events }
      }),
    )
  }

  async sweepExpired(running: readonly string[] = []): Promise<Turn[]> {
    const { turns: swept, events } = await this.sweep(running)
    if (events.length > 0) this.onInterrupted(events)
    return swept
  }

  context(userId: string, turnId: string): Promise<ContextItem[]> {
    return guarded(async () => {
      if (!isId('user', userId) || !isId('resp', turnId)) return []
      // One statement whatever the chain length: the walk takes a step per branch point, and the
      // items are read by one (segment_id, turn_depth) index range per segment. They are ordered
      // here rather than in SQL: sorting thousands of wide rows spills to disk at the default
      // work_mem, sorting numbers in JS is cheap.
      const [row] = await preparedRows<ContextColumns>(
        this.db,
        sql`with recursive ${chainFromTurn(userId, turnId)}
            select x.* from ${contextColumns(turnId)} x`,
      )
      return row ? contextItems(row) : []
    })
  }

  branch(userId: string, conversationId: string, page: PageInput): Promise<Page<BranchTurn>> {
    return guarded(async () => {
      const { cursor, limit } = check('page', PageInput, page)
      if (cursor !== undefined && !isId('resp', cursor)) {
        throw new ValidationError([{ path: 'cursor', message: 'is not a cursor of this listing' }])
      }
      if (!isId('user', userId) || !isId('conv', conversationId)) return { data: [], nextCursor: null }
      // A chain has one turn per depth: root first is shallowest first, and a cursor (a turn on
      // the chain; any other answers an empty page) stands for its depth.
      const after =
        cursor === undefined
          ? sql``
          : sql`and t.depth > (select c.depth from chain join turns c
              on c.segment_id = chain.segment_id and c.depth <= chain.depth where c.id = ${cursor})`
      const chain = await rawRows<{ id: string }>(
        this.db,
        sql`with recursive ${chainFromHead(userId, conversationId)}
            select t.id from chain join turns t on ${ON_CHAIN_TURNS} ${after}
            order by t.depth limit ${limit + 1}`,
      )
      const pageIds = chain.slice(0, limit).map((entry) => entry.id)
      if (pageIds.length === 0) return { data: [], nextCursor: null }
      const [turnRows, pageItems] = await Promise.all([
        this.db.select().from(turns).where(inArray(turns.id, pageIds)),
        itemsOfTurns(this.db, pageIds),
      ])
      const byId = new Map(turnRows.map((row) => [row.id, row]))
      const parents = [...new Set(turnRows.map((row) => row.parentTurnId).filter((id) => id !== null))]
      const hasRoot = turnRows.some((row) => row.parentTurnId === null)
      const siblings = await this.db
        .select({ id: turns.id, parentTurnId: turns.parentTurnId })
        .from(turns)
        .where(
          and(
            eq(turns.conversationId, conversationId),
            eq(turns.userId, userId),
            or(
              parents.length > 0 ? inArray(turns.parentTurnId, parents) : sql`false`,
              hasRoot ? isNull(turns.parentTurnId) : sql`false`,
            ),
          ),
        )
        .orderBy(asc(turns.createdAt), asc(turns.id))
      const data = pageIds.flatMap((id): BranchTurn[] => {
        const row = byId.get(id)
        if (!row) return []
        return [
          {
            turn: toTurn(row),
            ...splitBySide(pageItems, id),
            siblingIds: siblings.filter((s) => s.parentTurnId === row.parentTurnId).map((s) => s.id),
          },
        ]
      })
      const last = pageIds[pageIds.length - 1]
      return { data, nextCursor: chain.length > limit && last ? last : null }
    })
  }

  conversationOf(userId: string, turnId: string): Promise<string | null> {
    return guarded(async () => {
      if (!isId('user', userId) || !isId('resp', turnId)) return null
      const [row] = await preparedRows<{ conversation_id: string }>(
        this.db,
        sql`select t.conversation_id from turns t join conversations c on c.id = t.conversation_id
            where t.id = ${turnId} and t.user_id = ${userId} and c.user_id = ${userId} and c.deleted_at is null`,
      )
      return row?.conversation_id ?? null
    })
  }

  lastResponseId(userId: string, conversationId: string): Promise<string | null> {
    return guarded(async () => {
      if (!isId('user', userId) || !isId('conv', conversationId)) return null
      const [row] = await rawRows<{ id: string }>(
        this.db,
        sql`with recursive ${chainFromHead(userId, conversationId)}
            select t.id from chain join turns t on ${ON_CHAIN_TURNS}
            where t.status = 'completed' order by t.depth desc limit 1`,
      )
      return row?.id ?? null
    })
  }
}

async function lockTurn(executor: Executor, turnId: string): Promise<TurnRow> {
  const [row] = await executor.select().from(turns).where(eq(turns.id, turnId)).for('update')
  if (!row) throw new NotFoundError('turn', turnId)
  return row
}

function notRunning(turnId: string): ParleyError {
  return new ParleyError('interrupted', `Turn '${turnId}' is no longer running`, 409)
}

/**
 * A message streams as events before it is stored as an item (at the end of its step), so a
 * process that dies mid-message leaves its text only in the event log. The sweep stores that
 * text as an `incomplete` message under the id it streamed with: an interrupted turn keeps
 * what was produced, in its output, its terminal event and later contexts.
 */
async function storeStreamedMessages(tx: Executor, swept: TurnRow[]): Promise<void> {
  const rows = await tx
    .select({ turnId: turnEventBatches.turnId, events: turnEventBatches.events })
    .from(turnEventBatches)
    .where(
      inArray(
        turnEventBatches.turnId,
        swept.map((row) => row.id),
      ),
    )
    .orderBy(asc(turnEventBatches.turnId), asc(turnEventBatches.firstSeq), asc(turnEventBatches.lastSeq))
  for (const row of swept) {
    const streamed = unfinishedMessages(
      eventsAfter(
        rows.filter((entry) => entry.turnId === row.id).map((entry) => entry.events),
        0,
        Number.POSITIVE_INFINITY,
      ),
    )
    if (streamed.length === 0) continue
    // Stored already, only its `item.completed` event was lost with the process: nothing to do.
    const stored = await tx
      .select({ id: items.id })
      .from(items)
      .where(
        inArray(
          items.id,
          streamed.map(({ id }) => id),
        ),
      )
    const messages = streamed.filter(({ id }) => !stored.some((item) => item.id === id))
    if (messages.length === 0) continue
    await insertOutput(tx, row, {
      bodies: messages.map(({ text }) => ({
        type: 'message',
        role: 'assistant',
        status: 'incomplete',
        content: [{ type: 'output_text', text, annotations: [] }],
      })),
      // Estimated like imported items: about four characters a token.
      tokenCounts: messages.map(({ text }) => Math.ceil(text.length / 4)),
      ids: messages.map(({ id }) => id),
    })
  }
}

/** Messages that started and streamed text in these events but never completed, in order. */
export function unfinishedMessages(events: unknown[]): { id: string; text: string }[] {
  const open = new Map<string, string>()
  for (const event of events) {
    if (typeof event !== 'object' || event === null) continue
    const { type, itemId, itemType, delta, item } = event as Record<string, unknown>
    if (type === 'item.started' && itemType === 'message' && typeof itemId === 'string') open.set(itemId, '')
    else if (type === 'text.delta' && typeof itemId === 'string' && typeof delta === 'string') {
      const text = open.get(itemId)
      if (text !== undefined) open.set(itemId, text + delta)
    } else if (type === 'item.completed' && typeof item === 'object' && item !== null) {
      open.delete(String((item as { id?: unknown }).id))
    }
  }
  return [...open].filter(([, text]) => text !== '').map(([id, text]) => ({ id, text }))
}
