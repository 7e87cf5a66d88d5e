import type { TurnEvent } from '../contracts/events.ts'

/**
 * Live delivery of turn events to subscribers. In one process it is an in-memory fan-out
 * (`InProcessBus` in core); across instances the server wires Postgres LISTEN/NOTIFY.
 * Delivery is best effort: subscribers that miss events read them back from the EventLog,
 * which is the source of truth.
 */
export interface LiveBus {
  publish(turnId: string, events: TurnEvent[]): void
  /** Calls `listener` for every event published for `turnId` until the returned function is called. */
  subscribe(turnId: string, listener: (event: TurnEvent) => void): () => void
}
