import { createHash } from 'node:crypto'
import {
  type Conversation,
  eventId,
  type Item,
  type ItemBody,
  LIMITS,
  messageText,
  newId,
  shortened,
  type Turn,
  type TurnEvent,
  TurnSettings,
  toFieldIssues,
} from '@parley/core'
import { isConversationId, isItemId, type V1Request } from './context.ts'
import { invalidRequest, notFound, V1Error, validationError } from './errors.ts'
import { readJsonBody, readJsonObject, sendJson } from './http.ts'
import { toCoreItems, toWireItem } from './items.ts'
import { listPage } from './pagination.ts'
import { unixSeconds } from './response-object.ts'
import { CreateConversationBody, CreateItemsBody, ListQuery, UpdateConversationBody } from './schemas.ts'
import type { WireConversation, WireItem } from './wire.ts'

/** The provider name of turns that only store items a client added (no model call). */
const ITEMS_PROVIDER = 'conversation-items'

function toWireConversation(conversation: Conversation): WireConversation {
  return {
    id: conversation.id,
    object: 'conversation',
    created_at: unixSeconds(conversation.createdAt),
    metadata: conversation.metadata,
  }
}

async function findConversation(ctx: V1Request, id: string): Promise<Conversation> {
  const conversation = isConversationId(id) ? await ctx.deps.stores.conversations.get(ctx.user.id, id) : null
  if (!conversation) throw notFound('conversation', id)
  return conversation
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

function titleOf(items: ItemBody[]): string {
  const first = items.find((item) => item.type === 'message' && item.role === 'user')
  const text = first ? messageText(first).replace(/\s+/g, ' ').trim() : ''
  return shortened(text, 80)
}

/**
 * POST /v1/conversations. Initial items are stored as one finished turn without model output,
 * imported in one transaction. With an `Idempotency-Key` the creation is idempotent: a retry
 * returns the conversation the first request made.
 */
export async function createConversation(ctx: V1Request): Promise<void> {
  const parsed = CreateConversationBody.safeParse(await readJsonBody(ctx.req))
  if (!parsed.success) throw validationError(toFieldIssues(parsed.error))
  const body = parsed.data ?? {}
  const items = body.items && body.items.length > 0 ? toCoreItems(body.items, 'items') : []
  const metadata = body.metadata ?? {}
  const { conversations } = ctx.deps.stores
  let conversation: Conversation
  if (items.length === 0 && !ctx.idempotencyKey) {
    conversation = await conversations.create(ctx.user.id, { metadata })
  } else {
    const now = new Date()
    const result = await conversations.importConversation(ctx.user.id, {
      externalId: ctx.idempotencyKey ? `v1:${sha256(ctx.idempotencyKey)}` : `v1:${newId('req')}`,
      title: titleOf(items),
      metadata,
      createdAt: now,
      updatedAt: now,
      turns:
        items.length > 0 ? [{ input: items, output: [], createdAt: now, model: ctx.deps.defaultModel }] : [],
    })
    conversation = result.conversation
  }
  sendJson(ctx.res, 200, toWireConversation(conversation))
}

/** GET /v1/conversations/{id} */
export async function retrieveConversation(ctx: V1Request, id: string): Promise<void> {
  sendJson(ctx.res, 200, toWireConversation(await findConversation(ctx, id)))
}

/** POST /v1/conversations/{id}: replaces the metadata (null clears it). */
export async function updateConversation(ctx: V1Request, id: string): Promise<void> {
  // Its fields are checked after the lookup: an unknown conversation answers 404 before them.
  const raw = await readJsonObject(ctx.req)
  await findConversation(ctx, id)
  const parsed = UpdateConversationBody.safeParse(raw)
  if (!parsed.success) throw validationError(toFieldIssues(parsed.error))
  const updated = await ctx.deps.stores.conversations.update(ctx.user.id, id, {
    metadata: parsed.data.metadata ?? {},
  })
  if (!updated) throw notFound('conversation', id)
  sendJson(ctx.res, 200, toWireConversation(updated))
}

/** DELETE /v1/conversations/{id} */
export async function deleteConversation(ctx: V1Request, id: string): Promise<void> {
  const deleted = isConversationId(id) && (await ctx.deps.stores.conversations.delete(ctx.user.id, id))
  if (!deleted) throw notFound('conversation', id)
  sendJson(ctx.res, 200, { id, object: 'conversation.deleted', deleted: true })
}

/** Every item of the conversation's current branch, oldest first. */
async function branchItems(ctx: V1Request, conversationId: string): Promise<Item[]> {
  const items: Item[] = []
  let cursor: string | undefined
  do {
    const page = await ctx.deps.stores.turns.branch(ctx.user.id, conversationId, {
      limit: LIMITS.maxPageSize,
      ...(cursor ? { cursor } : {}),
    })
    for (const turn of page.data) items.push(...turn.input, ...turn.output)
    cursor = page.nextCursor ?? undefined
  } while (cursor)
  return items.sort((a, b) => a.seq - b.seq)
}

/** GET /v1/conversations/{id}/items */
export async function listConversationItems(ctx: V1Request, id: string): Promise<void> {
  const query = ListQuery.safeParse(Object.fromEntries(ctx.url.searchParams))
  if (!query.success) throw validationError(toFieldIssues(query.error))
  await findConversation(ctx, id)
  const items = (await branchItems(ctx, id)).map(toWireItem)
  sendJson(ctx.res, 200, listPage(items, query.data))
}

/** GET /v1/conversations/{id}/items/{item_id} */
export async function retrieveConversationItem(ctx: V1Request, id: string, itemId: string): Promise<void> {
  await findConversation(ctx, id)
  const item = isItemId(itemId)
    ? (await branchItems(ctx, id)).find((entry) => entry.id === itemId)
    : undefined
  if (!item) throw notFound('item', itemId)
  sendJson(ctx.res, 200, toWireItem(item))
}

/** DELETE /v1/conversations/{id}/items/{item_id}: items are immutable history in Parley. */
export async function deleteConversationItem(ctx: V1Request, id: string, itemId: string): Promise<void> {
  await findConversation(ctx, id)
  const exists = isItemId(itemId) && (await branchItems(ctx, id)).some((entry) => entry.id === itemId)
  if (!exists) throw notFound('item', itemId)
  throw invalidRequest(
    null,
    'Conversation items are immutable in Parley: later responses read their context through them',
    'unsupported_operation',
  )
}

/**
 * POST /v1/conversations/{id}/items: appends items without a model call, as a finished turn
 * with no output that becomes the conversation's head (so the next response sees them). The
 * claim gives it the same guarantees as a send: `Idempotency-Key` replays, one writer per
 * conversation.
 */
export async function createConversationItems(ctx: V1Request, id: string): Promise<void> {
  const raw = await readJsonObject(ctx.req)
  const conversation = await findConversation(ctx, id)
  const parsed = CreateItemsBody.safeParse(raw)
  if (!parsed.success) throw validationError(toFieldIssues(parsed.error))
  const items = toCoreItems(parsed.data.items, 'items')
  const { turns, events } = ctx.deps.stores
  const claim = await turns.claim({
    userId: ctx.user.id,
    conversationId: id,
    requestId: ctx.idempotencyKey ?? newId('req'),
    fingerprint: sha256(JSON.stringify({ kind: 'v1.conversation.items', conversation: id, items })),
    parentTurnId: conversation.headTurnId,
    input: items,
    inputTokenCounts: items.map((item) => Math.ceil(JSON.stringify(item).length / 4)),
    provider: ITEMS_PROVIDER,
    model: ctx.deps.defaultModel,
    instructions: null,
    settings: TurnSettings.parse({ serverTools: [] }),
    leaseMs: 30_000,
    setHead: true,
  })
  let stored: Item[]
  switch (claim.status) {
    case 'claimed': {
      const finished = await turns.finish(claim.turn.id, {
        status: 'completed',
        output: [],
        outputTokenCounts: [],
        usage: null,
        ledger: [],
        error: null,
        upstreamResponseId: null,
        truncated: false,
      })
      // Its event log says it started and finished, so that anyone who attaches to the turn
      // (tRPC `chat.watch`, `/v1` streams) gets a terminal event rather than waiting.
      await events.append(itemsTurnEvents(claim.turn, finished.turn))
      stored = claim.input
      break
    }
    case 'completed':
      stored = claim.input
      break
    case 'in_flight':
      throw new V1Error(409, 'A request with this Idempotency-Key is still running', {
        code: 'conversation_busy',
      })
    case 'conflict':
      throw new V1Error(
        claim.reason === 'idempotency_key_reused' ? 422 : 409,
        conflictMessage(claim.reason),
        {
          code: claim.reason,
        },
      )
    case 'not_found':
      throw notFound('conversation', id)
  }
  const data: WireItem[] = stored.map(toWireItem)
  sendJson(ctx.res, 200, {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
    has_more: false,
  })
}

function conflictMessage(reason: 'idempotency_key_reused' | 'conversation_busy'): string {
  return reason === 'idempotency_key_reused'
    ? 'This Idempotency-Key was already used with a different request'
    : 'A response is still running in this conversation'
}

function itemsTurnEvents(started: Turn, finished: Turn): TurnEvent[] {
  return [
    { type: 'turn.started', turn: started, id: eventId(started.id, 1), turnId: started.id, seq: 1 },
    {
      type: 'turn.completed',
      turn: finished,
      output: [],
      id: eventId(started.id, 2),
      turnId: started.id,
      seq: 2,
    },
  ]
}
