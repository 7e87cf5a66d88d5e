import {
  EditInput,
  LastEventId,
  parseEventId,
  RegenerateInput,
  SendInput,
  type StartedTurn,
  TurnId,
  ValidationError,
} from '@parley/core'
import { type TRPCRouterRecord, tracked } from '@trpc/server'
import { z } from 'zod'
import { type Context, protectedProcedure } from './trpc.ts'

type ChatContext = Context & { userId: string }

/** The seq after which to resume, from a client's `lastEventId` (which must belong to `turnId`). */
function resumeSeq(turnId: string, lastEventId: string | null | undefined): number {
  if (!lastEventId) return 0
  const parsed = parseEventId(lastEventId)
  if (!parsed || parsed.turnId !== turnId) {
    throw new ValidationError([{ path: 'lastEventId', message: 'must be an event id of this turn' }])
  }
  return parsed.seq
}

/**
 * The turn's events after `afterSeq` as tracked events, so that both transports resume with
 * the last id the client saw. Detaching (signal) never stops the turn.
 */
async function* trackedEvents(
  ctx: ChatContext,
  turnId: string,
  afterSeq: number,
  signal: AbortSignal | undefined,
) {
  ctx.metrics.activeStreams.inc()
  try {
    for await (const event of ctx.turns.attach(ctx.userId, turnId, afterSeq, signal)) {
      yield tracked(event.id, event)
    }
  } finally {
    ctx.metrics.activeStreams.dec()
  }
}

function logStarted(ctx: ChatContext, kind: string, started: StartedTurn): StartedTurn {
  ctx.log.info(
    {
      turnId: started.turn.id,
      conversationId: started.turn.conversationId,
      replayed: started.replayed,
      kind,
    },
    'turn accepted',
  )
  return started
}

export const chatRouter = {
  /** Starts a turn and returns at once; the turn runs whether or not anyone listens. */
  send: protectedProcedure
    .input(SendInput)
    .mutation(async ({ ctx, input }) => logStarted(ctx, 'send', await ctx.turns.send(ctx.userId, input))),

  regenerate: protectedProcedure
    .input(RegenerateInput)
    .mutation(async ({ ctx, input }) =>
      logStarted(ctx, 'regenerate', await ctx.turns.regenerate(ctx.userId, input)),
    ),

  edit: protectedProcedure
    .input(EditInput)
    .mutation(async ({ ctx, input }) => logStarted(ctx, 'edit', await ctx.turns.edit(ctx.userId, input))),

  /**
   * Starts the turn (or finds it by `requestId`) and streams its events. On reconnect the
   * client sends the same input plus `lastEventId`: the same turn resumes right after it,
   * with no second provider call.
   */
  stream: protectedProcedure
    .input(SendInput.extend({ lastEventId: LastEventId.nullish() }))
    .subscription(async function* ({ ctx, input, signal }) {
      const { lastEventId, ...send } = input
      const resumeFrom = lastEventId ? parseEventId(lastEventId) : null
      let turnId: string
      if (resumeFrom) {
        // Only the request that started the turn resumes it; another one is refused as `send` would.
        turnId = (await ctx.turns.sentTurn(ctx.userId, send, resumeFrom.turnId)).id
      } else {
        turnId = logStarted(ctx, 'stream', await ctx.turns.send(ctx.userId, send)).turn.id
      }
      yield* trackedEvents(ctx, turnId, resumeFrom?.seq ?? 0, signal)
    }),

  /** Follows a running (or finished) turn by id until its terminal event. */
  watch: protectedProcedure
    .input(z.object({ turnId: TurnId, lastEventId: LastEventId.nullish() }))
    .subscription(async function* ({ ctx, input, signal }) {
      yield* trackedEvents(ctx, input.turnId, resumeSeq(input.turnId, input.lastEventId), signal)
    }),

  cancel: protectedProcedure.input(z.object({ turnId: TurnId })).mutation(async ({ ctx, input }) => {
    const turn = await ctx.turns.cancel(ctx.userId, input.turnId)
    ctx.log.info({ turnId: turn.id, status: turn.status }, 'turn cancel requested')
    return turn
  }),

  turn: protectedProcedure
    .input(z.object({ turnId: TurnId }))
    .query(({ ctx, input }) => ctx.turns.get(ctx.userId, input.turnId)),
} satisfies TRPCRouterRecord
