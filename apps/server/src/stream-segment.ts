import type { ParleyClient } from '@parley/client'
import { isTerminalEvent, type SendInput, type TurnEvent } from '@parley/core'

/**
 * One connection's share of a turn's stream, as a client that drops and resumes sees it:
 * subscribes to `chat.stream` after the last event in `events` (appending what arrives), and
 * drops the subscription at the terminal event (true) or once `events` holds `stopAt` (false).
 * Used by the soak and the disconnect tests to resume a stream from random points.
 */
export function streamSegment(
  client: ParleyClient,
  input: Pick<SendInput, 'requestId' | 'conversationId' | 'input'>,
  events: TurnEvent[],
  stopAt: number,
): Promise<boolean> {
  const lastEventId = events.at(-1)?.id
  return new Promise<boolean>((resolve, reject) => {
    const subscription = client.chat.stream.subscribe(lastEventId ? { ...input, lastEventId } : input, {
      onData: ({ data }) => {
        events.push(data)
        const terminal = isTerminalEvent(data)
        if (terminal || events.length >= stopAt) {
          subscription.unsubscribe()
          resolve(terminal)
        }
      },
      onError: (error) => {
        subscription.unsubscribe()
        reject(error)
      },
    })
  })
}
