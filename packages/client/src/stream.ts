import { isTerminalEvent, parseEventId, type TurnEvent } from '@parley/core'
import type { ParleyClient } from './client.ts'
import { type ParleyClientError, toParleyClientError } from './errors.ts'

export type StreamTurnInput = Omit<Parameters<ParleyClient['chat']['stream']['subscribe']>[0], 'lastEventId'>

export interface StreamTurnOptions {
  /** Every event once, in order, across reconnects. */
  onEvent?: (event: TurnEvent) => void
  /** Resume after this event id (from an earlier, interrupted call). */
  lastEventId?: string
  /** Stops listening (the turn itself goes on; cancel it with `chat.cancel`). */
  signal?: AbortSignal
  /** Resubscriptions after transport failures without progress before giving up. Default 8. */
  maxRetries?: number
}

export interface StreamTurnResult {
  turnId: string
  /** The terminal event: `turn.completed`, `turn.failed`, `turn.cancelled` or `turn.interrupted`. */
  terminal: TurnEvent
  lastEventId: string
}

const RETRYABLE = new Set(['network', 'unavailable'])

/**
 * Sends a turn (or attaches to it: the same `requestId` never starts a second one) and follows
 * its events to the end. After a broken connection it resubscribes with the last event id it
 * saw, so `onEvent` sees no gap and no duplicate. The transports' own reconnects do the same;
 * this also covers a stream the server ended early (e.g. an instance shutting down).
 */
export function streamTurn(
  client: ParleyClient,
  input: StreamTurnInput,
  options: StreamTurnOptions = {},
): Promise<StreamTurnResult> {
  const maxRetries = options.maxRetries ?? 8
  let lastEventId = options.lastEventId ?? null
  let lastSeq = lastEventId ? (parseEventId(lastEventId)?.seq ?? 0) : 0
  let failures = 0
  let settled = false
  let unsubscribe: () => void = () => {}
  let retryTimer: ReturnType<typeof setTimeout> | undefined

  return new Promise<StreamTurnResult>((resolve, reject) => {
    const finish = (outcome: { result: StreamTurnResult } | { error: ParleyClientError | Error }) => {
      if (settled) return
      settled = true
      clearTimeout(retryTimer)
      options.signal?.removeEventListener('abort', onAbort)
      unsubscribe()
      if ('result' in outcome) resolve(outcome.result)
      else reject(outcome.error)
    }
    const onAbort = () => finish({ error: options.signal?.reason ?? new Error('aborted') })
    if (options.signal?.aborted) return onAbort()
    options.signal?.addEventListener('abort', onAbort, { once: true })

    const retry = (error: ParleyClientError) => {
      unsubscribe()
      failures += 1
      if (failures > maxRetries) return finish({ error })
      retryTimer = setTimeout(subscribe, Math.min(100 * 2 ** (failures - 1), 3_000))
    }

    function subscribe() {
      if (settled) return
      const subscription = client.chat.stream.subscribe(lastEventId ? { ...input, lastEventId } : input, {
        onData: ({ data: event }) => {
          // A resumed stream starts after lastEventId; anything at or before it is a duplicate.
          if (event.seq <= lastSeq) return
          lastSeq = event.seq
          lastEventId = event.id
          failures = 0
          options.onEvent?.(event)
          if (isTerminalEvent(event)) {
            finish({ result: { turnId: event.turnId, terminal: event, lastEventId: event.id } })
          }
        },
        onError: (raw) => {
          const error = toParleyClientError(raw)
          if (RETRYABLE.has(error.reason)) retry(error)
          else finish({ error })
        },
        onComplete: () => {
          if (!settled) retry(toParleyClientError(new Error('The stream ended before the turn did')))
        },
      })
      unsubscribe = () => subscription.unsubscribe()
    }
    subscribe()
  })
}
