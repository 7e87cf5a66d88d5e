import type { TurnEvent } from '../contracts/events.ts'
import type { LiveBus } from '../ports/live.ts'

/**
 * In-memory fan-out of turn events inside one process. A listener that throws is isolated:
 * the others still get the event, and the publisher never sees the error.
 */
export class InProcessBus implements LiveBus {
  readonly #listeners = new Map<string, Set<(event: TurnEvent) => void>>()

  publish(turnId: string, events: TurnEvent[]): void {
    const listeners = this.#listeners.get(turnId)
    if (!listeners) return
    for (const event of events) {
      for (const listener of [...listeners]) {
        try {
          listener(event)
        } catch {
          // A subscriber's failure is its own: live delivery is best effort by contract.
        }
      }
    }
  }

  subscribe(turnId: string, listener: (event: TurnEvent) => void): () => void {
    let listeners = this.#listeners.get(turnId)
    if (!listeners) {
      listeners = new Set()
      this.#listeners.set(turnId, listeners)
    }
    listeners.add(listener)
    return () => {
      const current = this.#listeners.get(turnId)
      if (!current) return
      current.delete(listener)
      if (current.size === 0) this.#listeners.delete(turnId)
    }
  }

  /** Subscribed listeners across all turns (for leak checks in tests and metrics). */
  get listenerCount(): number {
    let count = 0
    for (const listeners of this.#listeners.values()) count += listeners.size
    return count
  }
}
