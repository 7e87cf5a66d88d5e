import type { ItemBody, TurnError, TurnSettings, TurnStatus, Usage } from '@parley/core'
import { sql } from 'drizzle-orm'
import {
  bigserial,
  boolean,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core'
import { decodeBody, encodeBody } from './item-body.ts'

// Millisecond precision everywhere: timestamps round-trip through JS Dates and through
// keyset cursors, which would silently skip rows if Postgres kept microseconds.
const at = (name: string) => timestamp(name, { withTimezone: true, precision: 3 })

export const users = pgTable(
  'users',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    /** The one implicit user of local auth; a partial unique index makes its creation race-free. */
    isLocal: boolean('is_local').notNull().default(false),
    createdAt: at('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('users_one_local').on(t.isLocal).where(sql`${t.isLocal}`)],
)

export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** Visible part of the key (`pk_ab12cd34`), used to find candidates before comparing hashes. */
    prefix: text('prefix').notNull(),
    /** sha256 of the whole key, hex. The key itself is never stored. */
    hash: text('hash').notNull(),
    createdAt: at('created_at').notNull().defaultNow(),
    revokedAt: at('revoked_at'),
  },
  (t) => [index('api_keys_prefix').on(t.prefix), index('api_keys_user').on(t.userId)],
)

export const conversations = pgTable(
  'conversations',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    title: text('title').notNull(),
    metadata: jsonb('metadata').$type<Record<string, string>>().notNull().default({}),
    headTurnId: text('head_turn_id'),
    /** Last item seq handed out; bumped with UPDATE … RETURNING so allocation is race-free. */
    itemSeq: integer('item_seq').notNull().default(0),
    /** Source id of an imported conversation; unique per user so imports are idempotent. */
    externalId: text('external_id'),
    createdAt: at('created_at').notNull().defaultNow(),
    updatedAt: at('updated_at').notNull().defaultNow(),
    deletedAt: at('deleted_at'),
  },
  (t) => [
    index('conversations_user_updated').on(t.userId, t.updatedAt, t.id),
    uniqueIndex('conversations_user_external').on(t.userId, t.externalId),
  ],
)

export const turns = pgTable(
  'turns',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    conversationId: text('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    parentTurnId: text('parent_turn_id'),
    /**
     * Where the turn sits in the tree, so that a chain is read by ranges instead of a walk over
     * every ancestor. `depth` is the parent's + 1 (0 for a root). A segment is a path of turns
     * named by its first turn's id: a turn continues its parent's segment when it is the
     * parent's first child, and starts its own (`segment_id = id`) otherwise. The chain of a
     * turn is then one (segment, depth ≤ d) range per branch point on its path.
     */
    segmentId: text('segment_id').notNull(),
    depth: integer('depth').notNull(),
    requestId: text('request_id').notNull(),
    fingerprint: text('fingerprint').notNull(),
    status: text('status').$type<TurnStatus>().notNull(),
    leaseExpiresAt: at('lease_expires_at'),
    provider: text('provider').notNull(),
    model: text('model').notNull(),
    instructions: text('instructions'),
    settings: jsonb('settings').$type<TurnSettings>().notNull(),
    upstreamResponseId: text('upstream_response_id'),
    usage: jsonb('usage').$type<Usage>(),
    error: jsonb('error').$type<TurnError>(),
    truncated: boolean('truncated').notNull().default(false),
    createdAt: at('created_at').notNull().defaultNow(),
    completedAt: at('completed_at'),
  },
  (t) => [
    // The idempotency key: whoever inserts first owns the request id.
    uniqueIndex('turns_user_request').on(t.userId, t.requestId),
    // One writer per conversation, decided by the index rather than by a read.
    uniqueIndex('turns_one_running_per_conversation')
      .on(t.conversationId)
      .where(sql`${t.status} in ('pending', 'streaming')`),
    index('turns_parent').on(t.conversationId, t.parentTurnId, t.createdAt),
    // A segment is a path: one turn per depth. This index is what keeps it one when two
    // children of a turn are claimed at once and both read that the parent had none.
    uniqueIndex('turns_segment_depth').on(t.segmentId, t.depth),
    index('turns_running_lease').on(t.leaseExpiresAt).where(sql`${t.status} in ('pending', 'streaming')`),
  ],
)

/**
 * An item's body as text, not `jsonb`: a context read joins the bodies of its rows as they are
 * stored, with no conversion per row (printing `jsonb` as text costs more than the rest of the
 * read), and the body is stored once. A message of one plain text part is stored in a short form,
 * anything else as JSON text (`item-body.ts`). Nothing queries inside a body; it is validated on
 * the way in.
 */
const itemBodyText = customType<{ data: ItemBody; driverData: string }>({
  dataType: () => 'text',
  toDriver: encodeBody,
  fromDriver: decodeBody,
})

export const items = pgTable(
  'items',
  {
    id: text('id').primaryKey(),
    conversationId: text('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    turnId: text('turn_id')
      .notNull()
      .references(() => turns.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    side: text('side').$type<'input' | 'output'>().notNull(),
    type: text('type').$type<ItemBody['type']>().notNull(),
    /** Role of message items; null for calls, outputs and reasoning. */
    role: text('role'),
    /** The item's content: the body fields of `Item`, stored as `encodeBody` writes it. */
    body: itemBodyText('body').notNull(),
    /** The owning turn's `segment_id` and `depth`: a context is read by ranges of these. */
    segmentId: text('segment_id').notNull(),
    turnDepth: integer('turn_depth').notNull(),
    tokenCount: integer('token_count').notNull().default(0),
    createdAt: at('created_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('items_conversation_seq').on(t.conversationId, t.seq),
    index('items_turn_seq').on(t.turnId, t.seq),
    index('items_chain').on(t.segmentId, t.turnDepth, t.seq),
  ],
)

/**
 * The event log: one row per appended batch, not per event (a finish appends a few dozen events,
 * a long reply a few hundred). A batch is retried whole after an unclear failure, possibly with
 * later events added, so batches of a turn may overlap; the copies of a seq are the same event,
 * and readers keep the first (batches in `first_seq`, `last_seq` order, events in seq order).
 */
export const turnEventBatches = pgTable(
  'turn_event_batches',
  {
    /**
     * The turn's id, without a foreign key: only a turn's own statements append to its log (its
     * claim, start and finish, each in the statement that also touches the turn's row), turns are
     * never deleted, and the log is pruned by age.
     */
    turnId: text('turn_id').notNull(),
    firstSeq: integer('first_seq').notNull(),
    lastSeq: integer('last_seq').notNull(),
    /** A JSON array of whole TurnEvents as delivered (id, turnId, seq included), in seq order. */
    events: text('events').notNull(),
    createdAt: at('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.turnId, t.firstSeq, t.lastSeq] })],
)

export const usageLedger = pgTable(
  'usage_ledger',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    turnId: text('turn_id')
      .notNull()
      .references(() => turns.id, { onDelete: 'cascade' }),
    provider: text('provider').notNull(),
    model: text('model').notNull(),
    upstreamResponseId: text('upstream_response_id').notNull(),
    inputTokens: integer('input_tokens').notNull(),
    outputTokens: integer('output_tokens').notNull(),
    totalTokens: integer('total_tokens').notNull(),
    cachedInputTokens: integer('cached_input_tokens').notNull().default(0),
    reasoningTokens: integer('reasoning_tokens').notNull().default(0),
    estimated: boolean('estimated').notNull().default(false),
    createdAt: at('created_at').notNull().defaultNow(),
  },
  (t) => [
    // A provider call is billed once, whatever retries or replays happen.
    uniqueIndex('usage_ledger_provider_response').on(t.provider, t.upstreamResponseId),
    index('usage_ledger_user_created').on(t.userId, t.createdAt),
  ],
)

export const schema = { users, apiKeys, conversations, turns, items, turnEventBatches, usageLedger }
export type Schema = typeof schema
