import {
  type Conversation,
  type ConversationStore,
  ImportConversation,
  type ImportConversationInput,
  type ImportResult,
  type ItemBody,
  LIMITS,
  type ListConversationsInput,
  Metadata,
  NotFoundError,
  newId,
  type Page,
  PageInput,
  safeText,
  Title,
  TurnSettings,
  ValidationError,
} from '@parley/core'
import { and, asc, desc, eq, ilike, inArray, isNull, lt, or, sql } from 'drizzle-orm'
import { type Executor, rawRows } from '../db.ts'
import { FOREIGN_KEY_VIOLATION, guarded, sqlState } from '../errors.ts'
import { toConversation } from '../mappers.ts'
import { conversations, items, turns } from '../schema.ts'
import { check, isId } from '../validate.ts'
import { chainFromHead, ON_CHAIN_TURNS } from './chain.ts'
import { insertItemRows, itemRows } from './items.ts'

const DEFAULT_TITLE = 'New conversation'
const TURN_CHUNK = 1000

/** Keyset cursor of the listing: the last row's (updated_at, id). */
function encodeCursor(conversation: Conversation): string {
  return Buffer.from(JSON.stringify([conversation.updatedAt, conversation.id])).toString('base64url')
}

function decodeCursor(cursor: string): { updatedAt: Date; id: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    if (Array.isArray(value) && typeof value[0] === 'string' && isId('conv', value[1])) {
      const updatedAt = new Date(value[0])
      if (!Number.isNaN(updatedAt.getTime())) return { updatedAt, id: value[1] }
    }
  } catch {
    // Falls through to the validation error: any malformed cursor answers the same way.
  }
  throw new ValidationError([{ path: 'cursor', message: 'is not a cursor of this listing' }])
}

/** `%` and `_` in a search are literal characters, not patterns. */
function likePattern(search: string): string {
  return `%${search.replace(/[\\%_]/g, (char) => `\\${char}`)}%`
}

/** Imported items carry no token counts; a chars/4 estimate keeps context budgeting sane. */
function estimateTokens(body: ItemBody): number {
  return Math.ceil(JSON.stringify(body).length / 4)
}

function scoped(userId: string, id: string) {
  return and(eq(conversations.id, id), eq(conversations.userId, userId), isNull(conversations.deletedAt))
}

export class PgConversationStore implements ConversationStore {
  constructor(private readonly db: Executor) {}

  create(
    userId: string,
    input: { title?: string; metadata?: Record<string, string> },
  ): Promise<Conversation> {
    return guarded(async () => {
      const title = check('title', Title.optional(), input.title)
      const metadata = check('metadata', Metadata.optional(), input.metadata)
      if (!isId('user', userId)) throw new NotFoundError('user', userId)
      try {
        const [row] = await this.db
          .insert(conversations)
          .values({ id: newId('conv'), userId, title: title ?? DEFAULT_TITLE, metadata: metadata ?? {} })
          .returning()
        if (!row) throw new Error('insert returned nothing')
        return toConversation(row)
      } catch (error) {
        if (sqlState(error) === FOREIGN_KEY_VIOLATION) throw new NotFoundError('user', userId)
        throw error
      }
    })
  }

  get(userId: string, id: string): Promise<Conversation | null> {
    return guarded(async () => {
      if (!isId('user', userId) || !isId('conv', id)) return null
      const [row] = await this.db.select().from(conversations).where(scoped(userId, id))
      return row ? toConversation(row) : null
    })
  }

  list(userId: string, input: ListConversationsInput): Promise<Page<Conversation>> {
    return guarded(async () => {
      const { cursor, limit } = check('page', PageInput, { cursor: input.cursor, limit: input.limit })
      const search = check('search', safeText(LIMITS.maxTitleChars).optional(), input.search)
      const after = cursor === undefined ? undefined : decodeCursor(cursor)
      if (!isId('user', userId)) return { data: [], nextCursor: null }
      const rows = await this.db
        .select()
        .from(conversations)
        .where(
          and(
            eq(conversations.userId, userId),
            isNull(conversations.deletedAt),
            search ? ilike(conversations.title, likePattern(search)) : undefined,
            after
              ? or(
                  lt(conversations.updatedAt, after.updatedAt),
                  and(eq(conversations.updatedAt, after.updatedAt), lt(conversations.id, after.id)),
                )
              : undefined,
          ),
        )
        .orderBy(desc(conversations.updatedAt), desc(conversations.id))
        .limit(limit + 1)
      const data = rows.slice(0, limit).map(toConversation)
      const last = data[data.length - 1]
      return { data, nextCursor: rows.length > limit && last ? encodeCursor(last) : null }
    })
  }

  update(
    userId: string,
    id: string,
    patch: { title?: string; metadata?: Record<string, string> },
  ): Promise<Conversation | null> {
    return guarded(async () => {
      const title = check('title', Title.optional(), patch.title)
      const metadata = check('metadata', Metadata.optional(), patch.metadata)
      if (!isId('user', userId) || !isId('conv', id)) return null
      const [row] = await this.db
        .update(conversations)
        .set({
          ...(title === undefined ? {} : { title }),
          ...(metadata === undefined ? {} : { metadata }),
          updatedAt: sql`now()`,
        })
        .where(scoped(userId, id))
        .returning()
      return row ? toConversation(row) : null
    })
  }

  delete(userId: string, id: string): Promise<boolean> {
    return guarded(async () => {
      if (!isId('user', userId) || !isId('conv', id)) return false
      const deleted = await this.db
        .update(conversations)
        .set({ deletedAt: sql`now()` })
        .where(scoped(userId, id))
        .returning({ id: conversations.id })
      return deleted.length > 0
    })
  }

  setHead(userId: string, id: string, turnId: string): Promise<Conversation | null> {
    return guarded(async () => {
      if (!isId('user', userId) || !isId('conv', id) || !isId('resp', turnId)) return null
      // Selecting a turn selects its branch: the head becomes the newest turn below it (the
      // turn itself when it is a leaf), so a switch lands on the latest reply of that branch.
      const updated = await rawRows<{ id: string }>(
        this.db,
        sql`with recursive below(id, created_at) as (
              select t.id, t.created_at from turns t
              where t.id = ${turnId} and t.conversation_id = ${id} and t.user_id = ${userId}
              union all
              select t.id, t.created_at from turns t join below b on t.parent_turn_id = b.id
              where t.conversation_id = ${id}
            )
            update conversations
               set head_turn_id = (select id from below order by created_at desc, id desc limit 1)
             where id = ${id} and user_id = ${userId} and deleted_at is null
               and exists (select 1 from below)
            returning id`,
      )
      if (updated.length === 0) return null
      const [row] = await this.db.select().from(conversations).where(scoped(userId, id))
      return row ? toConversation(row) : null
    })
  }

  fork(userId: string, id: string, atItemId: string): Promise<Conversation | null> {
    return guarded(async () => {
      if (!isId('user', userId) || !isId('conv', id) || !isId('item', atItemId)) return null
      return this.db.transaction(async (tx) => {
        const [source] = await tx.select().from(conversations).where(scoped(userId, id))
        if (!source) return null
        const chainIds = sql`(with recursive ${chainFromHead(userId, id)}
          select t.id from chain join turns t on ${ON_CHAIN_TURNS})`
        const [chainTurns, chainItems] = await Promise.all([
          tx.select().from(turns).where(inArray(turns.id, chainIds)),
          tx
            .select({
              id: items.id,
              turnId: items.turnId,
              side: items.side,
              type: items.type,
              role: items.role,
              body: items.body,
              tokenCount: items.tokenCount,
              createdAt: items.createdAt,
            })
            .from(items)
            .where(inArray(items.turnId, chainIds))
            .orderBy(asc(items.seq)),
        ])
        const cut = chainItems.findIndex((item) => item.id === atItemId)
        if (cut < 0) return null
        const kept = chainItems.slice(0, cut + 1)
        const turnById = new Map(chainTurns.map((turn) => [turn.id, turn]))
        const order = [...new Set(kept.map((item) => item.turnId))]
        const copyId = new Map(order.map((turnId) => [turnId, newId('resp')]))
        const forkId = newId('conv')
        const [created] = await tx
          .insert(conversations)
          .values({
            id: forkId,
            userId,
            title: source.title,
            metadata: source.metadata,
            headTurnId: copyId.get(order[order.length - 1] ?? '') ?? null,
            itemSeq: kept.length,
          })
          .returning()
        if (!created) throw new Error('insert returned nothing')
        // The copy is a straight chain: one segment, named by its first turn.
        const segmentId = copyId.get(order[0] ?? '') ?? ''
        const depthOf = new Map<string, number>()
        let parent: string | null = null
        const turnRows: (typeof turns.$inferInsert)[] = []
        for (const turnId of order) {
          const original = turnById.get(turnId)
          const copy = copyId.get(turnId)
          if (!original || !copy) continue
          depthOf.set(copy, turnRows.length)
          turnRows.push({
            id: copy,
            userId,
            conversationId: forkId,
            parentTurnId: parent,
            segmentId,
            depth: turnRows.length,
            requestId: `fork:${copy}`,
            fingerprint: 'fork',
            status: 'completed',
            provider: original.provider,
            model: original.model,
            instructions: original.instructions,
            settings: original.settings,
            // The copy is not the upstream's response (it may end mid-turn): never continue from it.
            upstreamResponseId: null,
            truncated: original.truncated,
            createdAt: original.createdAt,
            completedAt: original.completedAt ?? original.createdAt,
          })
          parent = copy
        }
        await insertTurnRows(tx, turnRows)
        await insertItemRows(
          tx,
          kept.map((item, index) => ({
            id: newId('item'),
            conversationId: forkId,
            turnId: copyId.get(item.turnId) ?? '',
            segmentId,
            turnDepth: depthOf.get(copyId.get(item.turnId) ?? '') ?? 0,
            seq: index + 1,
            side: item.side,
            type: item.type,
            role: item.role,
            body: item.body,
            tokenCount: item.tokenCount,
            createdAt: item.createdAt,
          })),
        )
        return toConversation(created)
      })
    })
  }

  importConversation(userId: string, input: ImportConversationInput): Promise<ImportResult> {
    return guarded(async () => {
      const data = check('import', ImportConversation, input)
      if (!isId('user', userId)) throw new NotFoundError('user', userId)
      return this.db.transaction(async (tx) => {
        const conversationId = newId('conv')
        const turnIds = data.turns.map(() => newId('resp'))
        const itemCount = data.turns.reduce((sum, turn) => sum + turn.input.length + turn.output.length, 0)
        let created: typeof conversations.$inferSelect | undefined
        try {
          ;[created] = await tx
            .insert(conversations)
            .values({
              id: conversationId,
              userId,
              title: data.title,
              metadata: data.metadata,
              externalId: data.externalId,
              headTurnId: turnIds[turnIds.length - 1] ?? null,
              itemSeq: itemCount,
              createdAt: data.createdAt,
              updatedAt: data.updatedAt,
            })
            // The unique (user_id, external_id) index decides which import wins.
            .onConflictDoNothing()
            .returning()
        } catch (error) {
          if (sqlState(error) === FOREIGN_KEY_VIOLATION) throw new NotFoundError('user', userId)
          throw error
        }
        if (!created) {
          const [existing] = await tx
            .select()
            .from(conversations)
            .where(and(eq(conversations.userId, userId), eq(conversations.externalId, data.externalId)))
          if (!existing) throw new Error('import conflict without a row')
          return { status: 'skipped', conversation: toConversation(existing) }
        }
        const settings = TurnSettings.parse({})
        await insertTurnRows(
          tx,
          data.turns.map((turn, index) => ({
            id: turnIds[index] ?? '',
            userId,
            conversationId,
            parentTurnId: index === 0 ? null : (turnIds[index - 1] ?? null),
            // An import is a straight chain: one segment, named by its first turn.
            segmentId: turnIds[0] ?? '',
            depth: index,
            requestId: `import:${turnIds[index]}`,
            fingerprint: 'import',
            status: turn.status ?? 'completed',
            provider: 'import',
            model: turn.model,
            instructions: null,
            settings,
            usage: turn.usage ?? null,
            error: turn.error ?? null,
            createdAt: turn.createdAt,
            completedAt: turn.completedAt ?? turn.createdAt,
          })),
        )
        const rows: (typeof items.$inferInsert)[] = []
        let seq = 1
        data.turns.forEach((turn, index) => {
          const turnId = turnIds[index] ?? ''
          for (const [side, bodies] of [
            ['input', turn.input],
            ['output', turn.output],
          ] as const) {
            rows.push(
              ...itemRows({
                conversationId,
                turnId,
                segmentId: turnIds[0] ?? '',
                turnDepth: index,
                side,
                bodies,
                tokenCounts: bodies.map(estimateTokens),
                firstSeq: seq,
                createdAt: turn.createdAt,
              }),
            )
            seq += bodies.length
          }
        })
        await insertItemRows(tx, rows)
        return { status: 'imported', conversation: toConversation(created) }
      })
    })
  }
}

async function insertTurnRows(executor: Executor, rows: (typeof turns.$inferInsert)[]): Promise<void> {
  for (let start = 0; start < rows.length; start += TURN_CHUNK) {
    await executor.insert(turns).values(rows.slice(start, start + TURN_CHUNK))
  }
}
