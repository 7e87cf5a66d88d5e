import {
  type EventItem,
  type ItemBody,
  isTerminal,
  isTerminalEvent,
  messageText,
  NotFoundError,
  newId,
  ParleyError,
  type SendInput,
  SendInput as SendInputSchema,
  type StartedTurn,
  shortened,
  type Turn,
  type TurnWithItems,
  toFieldIssues,
} from '@parley/core'
import { isConversationId, isResponseId, type V1Request } from './context.ts'
import { notFound, toV1Error, unknownParameter, unsupported, V1Error, validationError } from './errors.ts'
import { readJsonObject, SseWriter, sendJson } from './http.ts'
import { textInput, toCoreItems, toWireItem } from './items.ts'
import { listPage } from './pagination.ts'
import { toWireResponse } from './response-object.ts'
import { CreateResponseBody, ListQuery, RESPONSE_PARAMS, StreamQuery, UNSUPPORTED_PARAMS } from './schemas.ts'
import { ResponseEventMapper } from './stream-events.ts'

/** A well-formed id for the pre-send validation of a request whose conversation is not made yet. */
const PLACEHOLDER_CONVERSATION = `conv_${'0'.repeat(24)}`

/** POST /v1/responses */
export async function createResponse(ctx: V1Request): Promise<void> {
  const raw = await readJsonObject(ctx.req)
  const unknown = Object.keys(raw).find((param) => !RESPONSE_PARAMS.has(param))
  if (unknown !== undefined) throw unknownParameter(unknown)
  for (const [param, problem] of UNSUPPORTED_PARAMS) {
    const message = problem(raw[param])
    if (message) throw unsupported(param, message)
  }
  const parsed = CreateResponseBody.safeParse(raw)
  if (!parsed.success) throw validationError(toFieldIssues(parsed.error))
  const body = parsed.data
  if (body.previous_response_id && body.conversation) {
    throw new V1Error(400, 'previous_response_id and conversation cannot be used together', {
      param: 'previous_response_id',
      code: 'invalid_parameter_combination',
    })
  }

  const input =
    typeof body.input === 'string' ? textInput(body.input, 'input') : toCoreItems(body.input, 'input')
  const send: SendInput = {
    requestId: ctx.idempotencyKey ?? newId('req'),
    conversationId: PLACEHOLDER_CONVERSATION,
    input,
    model: body.model ?? ctx.deps.defaultModel,
    settings: {
      temperature: body.temperature ?? null,
      topP: body.top_p ?? null,
      maxOutputTokens: body.max_output_tokens ?? null,
      toolChoice: body.tool_choice ?? 'auto',
      parallelToolCalls: body.parallel_tool_calls ?? true,
      tools: (body.tools ?? []).map((tool) => ({
        type: 'function' as const,
        name: tool.name,
        description: tool.description ?? null,
        parameters: tool.parameters ?? null,
        strict: tool.strict ?? true,
      })),
      // A Responses client declares the tools it wants; Parley's own tools stay out of its way.
      serverTools: [],
      metadata: body.metadata ?? {},
      store: body.store ?? true,
    },
  }
  if (body.instructions != null) send.instructions = body.instructions
  // Validate everything before a conversation is created for the request: a refused request
  // leaves nothing behind.
  const checked = SendInputSchema.safeParse(send)
  if (!checked.success) throw validationError(toFieldIssues(checked.error))

  const target = await resolveTarget(ctx, body, input)
  send.conversationId = target.conversationId
  if (target.parentTurnId) send.parentTurnId = target.parentTurnId

  let started: StartedTurn
  try {
    started = await sendOnce(ctx, send, target)
  } catch (error) {
    // The previous response went away (its conversation was deleted) since it was looked up.
    if (body.previous_response_id && error instanceof NotFoundError) {
      throw notFound('response', body.previous_response_id, 'previous_response_id')
    }
    // The response this key made was deleted (with its conversation): nothing left to replay.
    if (target.byKey && error instanceof NotFoundError) {
      throw new V1Error(404, 'The response made earlier with this Idempotency-Key was deleted', {
        code: 'not_found',
        param: 'Idempotency-Key',
      })
    }
    throw error
  }
  ctx.responses.remember(ctx.user.id, started.turn.id, started.turn.conversationId)
  ctx.deps.log?.({
    level: 'info',
    msg: 'v1 response started',
    requestId: ctx.res.getHeader('x-request-id'),
    responseId: started.turn.id,
    replayed: started.replayed,
    stream: body.stream === true,
  })
  const headers: Record<string, string> = started.replayed ? { 'idempotent-replayed': 'true' } : {}
  if (body.stream === true) {
    await streamResponse(ctx, started.turn.id, -1, headers)
    return
  }
  const final = await waitForEnd(ctx, started.turn.id)
  if (final) sendJson(ctx.res, 200, toWireResponse(final.turn, final.output), headers)
}

interface Target {
  conversationId: string
  parentTurnId: string | null
  /** The conversation was made for this request (and is removed again if the send is refused). */
  created: boolean
  /** The conversation of an earlier request with the same `Idempotency-Key`. */
  byKey?: boolean
}

async function resolveTarget(ctx: V1Request, body: CreateResponseBody, input: ItemBody[]): Promise<Target> {
  const { stores } = ctx.deps
  const userId = ctx.user.id
  if (body.previous_response_id) {
    // Only its conversation is needed here: the claim itself checks the parent again.
    const id = body.previous_response_id
    if (!isResponseId(id)) throw notFound('response', id, 'previous_response_id')
    const conversationId = ctx.responses.get(userId, id) ?? (await stores.turns.conversationOf(userId, id))
    if (!conversationId) throw notFound('response', id, 'previous_response_id')
    ctx.responses.remember(userId, id, conversationId)
    return { conversationId, parentTurnId: id, created: false }
  }
  if (body.conversation) {
    const id = typeof body.conversation === 'string' ? body.conversation : body.conversation.id
    const conversation = isConversationId(id) ? await stores.conversations.get(userId, id) : null
    if (!conversation) throw notFound('conversation', id, 'conversation')
    return { conversationId: conversation.id, parentTurnId: null, created: false }
  }
  // A retried request that made its own conversation must land in that same conversation, or
  // its fingerprint would differ from the original's.
  if (ctx.idempotencyKey) {
    const prior = await stores.turns.getByRequestId(userId, ctx.idempotencyKey)
    if (prior)
      return { conversationId: prior.turn.conversationId, parentTurnId: null, created: false, byKey: true }
  }
  const conversation = await stores.conversations.create(userId, { title: titleOf(input) })
  return { conversationId: conversation.id, parentTurnId: null, created: true }
}

async function sendOnce(ctx: V1Request, send: SendInput, target: Target) {
  const { turns, stores } = ctx.deps
  const userId = ctx.user.id
  try {
    return await turns.send(userId, send)
  } catch (error) {
    if (!target.created) throw error
    await stores.conversations.delete(userId, target.conversationId).catch(() => false)
    // Two copies of a first request raced: the other one claimed the key in its own new
    // conversation. Join it there, as a replay.
    if (error instanceof ParleyError && error.reason === 'idempotency_key_reused' && ctx.idempotencyKey) {
      const winner = await stores.turns.getByRequestId(userId, ctx.idempotencyKey)
      if (winner) return turns.send(userId, { ...send, conversationId: winner.turn.conversationId })
    }
    throw error
  }
}

function titleOf(input: ItemBody[]): string {
  const first = input.find((item) => item.type === 'message' && item.role === 'user') ?? input[0]
  const text = first ? messageText(first).replace(/\s+/g, ' ').trim() : ''
  return shortened(text, 80)
}

/**
 * A response of the caller. Unknown ids, other users' ids and responses whose conversation was
 * deleted all answer the same 404.
 */
async function findResponse(ctx: V1Request, id: string): Promise<TurnWithItems> {
  const userId = ctx.user.id
  if (!isResponseId(id)) throw notFound('response', id, null)
  let found: TurnWithItems
  try {
    found = await ctx.deps.turns.get(userId, id)
  } catch (error) {
    if (error instanceof NotFoundError) throw notFound('response', id, null)
    throw error
  }
  const conversation = await ctx.deps.stores.conversations.get(userId, found.turn.conversationId)
  if (!conversation) throw notFound('response', id, null)
  return found
}

/** Waits for the end of a turn; null when the client went away first. */
async function waitForEnd(
  ctx: V1Request,
  turnId: string,
): Promise<{ turn: Turn; output: EventItem[] } | null> {
  const controller = abortOnClose(ctx)
  try {
    const events = ctx.deps.turns.attach(ctx.user.id, turnId, 0, controller.signal, { endOnly: true })
    for await (const event of events) {
      if (
        event.type === 'turn.completed' ||
        event.type === 'turn.failed' ||
        event.type === 'turn.cancelled' ||
        event.type === 'turn.interrupted'
      ) {
        return { turn: event.turn, output: event.output }
      }
    }
  } catch (error) {
    if (controller.signal.aborted) return null
    throw error
  }
  if (controller.signal.aborted) return null
  // The log ended without a terminal event (pruned): the stored turn is the answer.
  const stored = await ctx.deps.turns.get(ctx.user.id, turnId)
  return { turn: stored.turn, output: stored.output }
}

function abortOnClose(ctx: V1Request): AbortController {
  const controller = new AbortController()
  ctx.res.on('close', () => {
    if (!ctx.res.writableFinished) controller.abort()
  })
  return controller
}

/**
 * Streams a turn as Responses events, from the start of its log, skipping events numbered
 * `startingAfter` or less. Leaving (or losing the client) detaches; the turn runs on.
 */
async function streamResponse(
  ctx: V1Request,
  turnId: string,
  startingAfter: number,
  headers: Record<string, string> = {},
): Promise<void> {
  for (const [name, value] of Object.entries(headers)) ctx.res.setHeader(name, value)
  const controller = abortOnClose(ctx)
  const sse = new SseWriter(ctx.res)
  const mapper = new ResponseEventMapper()
  try {
    for await (const event of ctx.deps.turns.attach(ctx.user.id, turnId, 0, controller.signal)) {
      for (const wire of mapper.map(event)) {
        if (wire.sequence_number > startingAfter) await sse.send(wire)
      }
      if (sse.closed) break
      if (isTerminalEvent(event)) break
    }
    sse.end()
  } catch (error) {
    if (controller.signal.aborted || sse.closed) {
      sse.abort()
      return
    }
    const failure = toV1Error(error)
    ctx.deps.log?.({ level: 'error', msg: 'v1 stream failed', responseId: turnId, reason: failure.code })
    await sse.send(mapper.errorEvent(failure.code ?? 'server_error', failure.message))
    sse.end()
  }
}

/** GET /v1/responses/{id} (JSON, or `?stream=true&starting_after=N`) */
export async function retrieveResponse(ctx: V1Request, id: string): Promise<void> {
  const query = StreamQuery.safeParse(Object.fromEntries(ctx.url.searchParams))
  if (!query.success) throw validationError(toFieldIssues(query.error))
  const found = await findResponse(ctx, id)
  if (query.data.stream === 'true') {
    await streamResponse(ctx, id, query.data.starting_after ?? -1)
    return
  }
  sendJson(ctx.res, 200, toWireResponse(found.turn, found.output))
}

/**
 * DELETE /v1/responses/{id}. Parley's turns are immutable links of a conversation's history
 * (later turns read their context through them), so a response can be deleted only where it
 * is its conversation's one turn, the conversation going with it; see docs/responses-api.md.
 */
export async function deleteResponse(ctx: V1Request, id: string): Promise<void> {
  const found = await findResponse(ctx, id)
  const { turn } = found
  if (!isTerminal(turn.status)) {
    throw new V1Error(409, 'This response is still in progress: cancel it first', {
      code: 'response_in_progress',
    })
  }
  const branch = await ctx.deps.stores.turns.branch(ctx.user.id, turn.conversationId, { limit: 2 })
  const only = branch.data[0]
  const alone =
    branch.data.length === 1 &&
    branch.nextCursor === null &&
    only?.turn.id === id &&
    only.siblingIds.length === 1
  if (!alone) {
    throw new V1Error(
      400,
      `Response '${id}' is part of conversation '${turn.conversationId}' with other responses; ` +
        'its history cannot be cut: delete the conversation instead',
      { code: 'unsupported_operation' },
    )
  }
  await ctx.deps.stores.conversations.delete(ctx.user.id, turn.conversationId)
  sendJson(ctx.res, 200, { id, object: 'response', deleted: true })
}

/** GET /v1/responses/{id}/input_items */
export async function listInputItems(ctx: V1Request, id: string): Promise<void> {
  const query = ListQuery.safeParse(Object.fromEntries(ctx.url.searchParams))
  if (!query.success) throw validationError(toFieldIssues(query.error))
  const found = await findResponse(ctx, id)
  sendJson(ctx.res, 200, listPage(found.input.map(toWireItem), query.data))
}

/** POST /v1/responses/{id}/cancel */
export async function cancelResponse(ctx: V1Request, id: string): Promise<void> {
  const found = await findResponse(ctx, id)
  const status = found.turn.status
  if (isTerminal(status) && status !== 'cancelled') {
    throw new V1Error(400, `Cannot cancel a response that is already ${status}`, {
      code: 'response_not_cancellable',
    })
  }
  if (!isTerminal(status)) await ctx.deps.turns.cancel(ctx.user.id, id)
  const after = await ctx.deps.turns.get(ctx.user.id, id)
  sendJson(ctx.res, 200, toWireResponse(after.turn, after.output))
}
