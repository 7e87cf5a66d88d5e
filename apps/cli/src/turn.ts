import type { ParleyClient } from '@parley/client'
import { isParleyClientError, toParleyClientError } from '@parley/client'
import {
  type ItemBody,
  isTerminal,
  isTerminalEvent,
  messageText,
  type StartedTurn,
  type Turn,
  type TurnError,
  type TurnEvent,
  type TurnStatus,
  type TurnWithItems,
  type Usage,
} from '@parley/core'
import { CliError, EXIT } from './errors.ts'

export interface TurnHooks {
  /** Every event once, in order, across reconnects. */
  onEvent?: (event: TurnEvent) => void
  /** The connection broke while following the turn. */
  onConnectionLost?: () => void
  /** Following again after a break: the next events continue right after the last one seen. */
  onResumed?: () => void
}

export interface TurnSummary {
  conversationId: string
  turnId: string
  requestId: string
  status: TurnStatus
  text: string
  usage: Usage | null
  replayed: boolean
  error: { reason: string; message: string } | null
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const TRANSIENT = new Set(['network', 'unavailable'])

/**
 * Calls a turn-starting mutation (send, regenerate). It carries a request id, so a retry after
 * a broken connection can never start a second turn: it gets the first one back, replayed.
 */
export async function startTurn(run: () => Promise<StartedTurn>): Promise<StartedTurn> {
  const delays = [300, 1_000]
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await run()
    } catch (error) {
      const delay = delays[attempt]
      if (delay === undefined || !isParleyClientError(error) || !TRANSIENT.has(error.reason)) throw error
      await sleep(delay)
    }
  }
}

export interface FollowOptions extends TurnHooks {
  /** Resume after this event id. */
  lastEventId?: string
  /** How long to keep trying to reconnect before giving up. */
  reconnectTimeoutMs?: number
}

/**
 * Follows a turn's events (`chat.watch`) to its terminal event. The transports reconnect on
 * their own and resume with the last event id; when a subscription still fails (the server
 * ended it while shutting down, or refused it while starting up), this subscribes again after
 * the last event it saw. Events at or before it are dropped, so nothing is shown twice.
 */
export function followTurn(
  client: ParleyClient,
  turnId: string,
  options: FollowOptions = {},
): Promise<TurnEvent> {
  const reconnectTimeoutMs = options.reconnectTimeoutMs ?? 60_000
  let lastEventId = options.lastEventId ?? null
  let lastSeq = lastEventId ? Number(lastEventId.slice(lastEventId.lastIndexOf(':') + 1)) : 0
  let lostAt: number | null = null
  let stalledAt: number | null = null
  let failures = 0
  let settled = false
  let unsubscribe = () => {}
  let timer: ReturnType<typeof setTimeout> | undefined

  return new Promise<TurnEvent>((resolve, reject) => {
    const finish = (result: { event: TurnEvent } | { error: unknown }) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      unsubscribe()
      if ('event' in result) resolve(result.event)
      else reject(result.error)
    }
    const lost = () => {
      if (lostAt !== null) return
      lostAt = Date.now()
      options.onConnectionLost?.()
    }
    const giveUpIfTooLong = (error: unknown): boolean => {
      if (lostAt === null || Date.now() - lostAt < reconnectTimeoutMs) return false
      const reason = isParleyClientError(error) ? error.message : 'no answer'
      finish({
        error: new CliError(
          EXIT.server,
          `lost the connection to the server (${reason}); the turn ${turnId} goes on there: resume with the same request id`,
          'network',
        ),
      })
      return true
    }
    const resumed = () => {
      if (lostAt === null) return
      lostAt = null
      options.onResumed?.()
    }

    const subscribe = () => {
      if (settled) return
      const subscription = client.chat.watch.subscribe(lastEventId ? { turnId, lastEventId } : { turnId }, {
        onStarted: () => resumed(),
        onConnectionStateChange: (state) => {
          if (state.state === 'connecting' && state.error) {
            lost()
            giveUpIfTooLong(state.error)
          } else if (state.state === 'pending') {
            resumed()
          }
        },
        onData: ({ data: event }) => {
          if (event.seq <= lastSeq) return
          lastSeq = event.seq
          lastEventId = event.id
          failures = 0
          stalledAt = null
          resumed()
          options.onEvent?.(event)
          if (isTerminalEvent(event)) finish({ event })
        },
        onError: (raw) => {
          const error = toParleyClientError(raw)
          if (!TRANSIENT.has(error.reason)) return finish({ error })
          retry(error)
        },
        onComplete: () => {
          if (!settled) void endedEarly()
        },
      })
      unsubscribe = () => subscription.unsubscribe()
    }
    /**
     * The server ended the stream before the turn's terminal event: it is shutting down, or it
     * has no live run of the turn (its process died). The stored turn says whether it is over
     * (e.g. swept to `interrupted`); if not, follow again a little later.
     */
    const endedEarly = async () => {
      unsubscribe()
      stalledAt ??= Date.now()
      try {
        const stored = await client.chat.turn.query({ turnId })
        if (isTerminal(stored.turn.status)) {
          return finish({ event: terminalEventOf(stored, lastSeq + 1) })
        }
      } catch (raw) {
        const error = toParleyClientError(raw)
        if (!TRANSIENT.has(error.reason)) return finish({ error })
      }
      if (Date.now() - stalledAt > reconnectTimeoutMs * 2) {
        return finish({
          error: new CliError(
            EXIT.server,
            `the turn ${turnId} has not finished and the server is not streaming it; check it later with parley conversations show`,
            'stalled',
          ),
        })
      }
      failures += 1
      timer = setTimeout(subscribe, Math.min(250 * 2 ** (failures - 1), 2_000))
    }
    const retry = (error: unknown) => {
      unsubscribe()
      lost()
      if (giveUpIfTooLong(error)) return
      failures += 1
      timer = setTimeout(subscribe, Math.min(250 * 2 ** (failures - 1), 2_000))
    }
    subscribe()
  })
}

/** A terminal event rebuilt from a stored turn that ended without one reaching us. */
function terminalEventOf(stored: TurnWithItems, seq: number): TurnEvent {
  const { turn, output } = stored
  const base = { id: `${turn.id}:${seq}`, turnId: turn.id, seq, turn, output }
  switch (turn.status) {
    case 'failed':
      return {
        ...base,
        type: 'turn.failed',
        error: turn.error ?? { reason: 'internal', message: 'The turn failed' },
      }
    case 'cancelled':
      return { ...base, type: 'turn.cancelled' }
    case 'interrupted':
      return { ...base, type: 'turn.interrupted' }
    default:
      return { ...base, type: 'turn.completed' }
  }
}

/** The assistant's text of a finished turn, from its stored output; what streamed otherwise. */
export function replyText(output: ItemBody[] | undefined, streamed: string): string {
  const text = (output ?? [])
    .filter((item) => item.type === 'message' && item.role === 'assistant')
    .map((item) => messageText(item))
    .join('\n\n')
  return text || streamed
}

/** The terminal event (or the stored turn) of a turn as the stable `--json` summary. */
export function summarize(
  started: StartedTurn,
  end: { turn: Turn; output?: ItemBody[]; error?: TurnError },
  streamed: string,
): TurnSummary {
  const { turn } = end
  const error = end.error ?? turn.error
  return {
    conversationId: turn.conversationId,
    turnId: turn.id,
    requestId: turn.requestId,
    status: turn.status,
    text: replyText(end.output, streamed),
    usage: turn.usage,
    replayed: started.replayed,
    error: error ? { reason: error.reason, message: error.message } : null,
  }
}

/** The parts of a terminal event a summary needs. */
export function endOf(
  started: StartedTurn,
  terminal: TurnEvent,
): { turn: Turn; output?: ItemBody[]; error?: TurnError } {
  if (terminal.type === 'turn.failed')
    return { turn: terminal.turn, output: terminal.output, error: terminal.error }
  if ('turn' in terminal && 'output' in terminal) return { turn: terminal.turn, output: terminal.output }
  return { turn: started.turn }
}
