import type { LiveBus, TurnEvent } from '@parley/core'

type Listener = (event: TurnEvent) => void

/** In-process fan-out: the whole bus for PGlite, and the local half of the Postgres bus. */
export class LocalBus implements LiveBus {
  private readonly listeners = new Map<string, Set<Listener>>()

  publish(turnId: string, events: TurnEvent[]): void {
    const set = this.listeners.get(turnId)
    if (!set) return
    for (const event of events) {
      for (const listener of [...set]) {
        try {
          listener(event)
        } catch {
          // One failing subscriber must not starve the others; the log still has the event.
        }
      }
    }
  }

  subscribe(turnId: string, listener: Listener): () => void {
    let set = this.listeners.get(turnId)
    if (!set) {
      set = new Set()
      this.listeners.set(turnId, set)
    }
    set.add(listener)
    return () => {
      const current = this.listeners.get(turnId)
      if (!current) return
      current.delete(listener)
      if (current.size === 0) this.listeners.delete(turnId)
    }
  }

  hasSubscribers(turnId: string): boolean {
    return this.listeners.has(turnId)
  }
}
