import { randomUUID } from 'node:crypto'
import type { LiveBus, TurnEvent } from '@parley/core'
import type postgres from 'postgres'
import { LocalBus } from './bus.ts'

export const NOTIFY_CHANNEL = 'parley_turn_events'
/** Postgres refuses NOTIFY payloads of 8000 bytes or more; keep a margin for the envelope. */
const MAX_PAYLOAD_BYTES = 7900

/**
 * A batch inline, a pointer to events that receivers read back from the log, or a presence
 * message: `ask` when an instance starts listening, `answer` from each instance that hears it.
 */
type Message =
  | { origin: string; turnId: string; events: TurnEvent[] }
  | { origin: string; turnId: string; fromSeq: number; toSeq: number }
  | { origin: string; hello: 'ask' | 'answer' }

export interface NotifyBusOptions {
  /** How long publishes of one turn are gathered into one NOTIFY (default 5 ms). */
  coalesceMs?: number
  /** How long a receiver waits for pointed-to events to reach the log (default 1 s). */
  pointerWaitMs?: number
}

type ReadEvents = (turnId: string, afterSeq: number, limit: number) => Promise<TurnEvent[]>

/**
 * Live delivery across processes through Postgres LISTEN/NOTIFY. Local subscribers get events
 * at once; other instances get them through one NOTIFY per turn per few milliseconds (not one
 * per token). Receivers deliver in seq order and drop seqs they already delivered, so a
 * redelivered or overlapping batch is harmless.
 *
 * An instance that has never heard another one sends no NOTIFY at all: a lone server would
 * otherwise pay a statement (and the echo of its own message) several times per turn for
 * nobody. Every instance says hello when it starts listening and answers the hellos it hears,
 * so two instances know of each other within one round trip of the later one's start. Events
 * published before that reach a remote subscriber from the event log, as after a lost NOTIFY.
 */
export class NotifyBus implements LiveBus {
  private readonly local = new LocalBus()
  private readonly origin = randomUUID()
  private readonly pending = new Map<string, TurnEvent[]>()
  private readonly delivered = new Map<string, number>()
  private readonly queues = new Map<string, Promise<void>>()
  private timer: NodeJS.Timeout | null = null
  private flushing: Promise<void> = Promise.resolve()
  private listening: { unlisten(): Promise<void> } | null = null
  private readonly coalesceMs: number
  private readonly pointerWaitMs: number
  /** Whether another instance has been heard on the channel since this one started. */
  private peers = false

  constructor(
    private readonly sql: postgres.Sql,
    private readonly readEvents: ReadEvents,
    options: NotifyBusOptions = {},
  ) {
    this.coalesceMs = options.coalesceMs ?? 5
    this.pointerWaitMs = options.pointerWaitMs ?? 1000
  }

  async start(): Promise<void> {
    this.listening = await this.sql.listen(NOTIFY_CHANNEL, (payload) => this.receive(payload))
    await this.hello('ask')
  }

  /** True once another instance has been heard: only then do publishes go out as NOTIFYs. */
  get hasPeers(): boolean {
    return this.peers
  }

  publish(turnId: string, events: TurnEvent[]): void {
    if (events.length === 0) return
    this.local.publish(turnId, events)
    if (!this.peers) return
    const buffer = this.pending.get(turnId)
    if (buffer) buffer.push(...events)
    else this.pending.set(turnId, [...events])
    this.timer ??= setTimeout(() => {
      this.timer = null
      this.flushing = this.flushing.then(() => this.flush())
    }, this.coalesceMs)
  }

  subscribe(turnId: string, listener: (event: TurnEvent) => void): () => void {
    const unsubscribe = this.local.subscribe(turnId, listener)
    return () => {
      unsubscribe()
      if (!this.local.hasSubscribers(turnId)) this.delivered.delete(turnId)
    }
  }

  /** Sends what is buffered, stops listening. Pending remote deliveries are dropped. */
  async close(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer)
      this.timer = null
      this.flushing = this.flushing.then(() => this.flush())
    }
    await this.flushing
    await this.listening?.unlisten().catch(() => {})
    this.listening = null
  }

  private async flush(): Promise<void> {
    const batches = [...this.pending]
    this.pending.clear()
    for (const [turnId, events] of batches) {
      for (const payload of this.payloads(turnId, events)) {
        try {
          await this.sql.notify(NOTIFY_CHANNEL, payload)
        } catch {
          // Best effort by contract: remote readers catch up from the event log.
        }
      }
    }
  }

  /**
   * Packs a turn's events into as few payloads under the limit as possible; an event too large
   * to travel on its own goes as a pointer that receivers resolve from the event log.
   */
  private payloads(turnId: string, events: TurnEvent[]): string[] {
    const envelope = Buffer.byteLength(JSON.stringify({ origin: this.origin, turnId, events: [] }))
    const payloads: string[] = []
    let chunk: TurnEvent[] = []
    let size = envelope
    const close = () => {
      if (chunk.length > 0) {
        payloads.push(JSON.stringify({ origin: this.origin, turnId, events: chunk } satisfies Message))
      }
      chunk = []
      size = envelope
    }
    for (const event of events) {
      const bytes = Buffer.byteLength(JSON.stringify(event)) + 1
      if (envelope + bytes > MAX_PAYLOAD_BYTES) {
        close()
        payloads.push(
          JSON.stringify({
            origin: this.origin,
            turnId,
            fromSeq: event.seq,
            toSeq: event.seq,
          } satisfies Message),
        )
        continue
      }
      if (size + bytes > MAX_PAYLOAD_BYTES) close()
      chunk.push(event)
      size += bytes
    }
    close()
    return payloads
  }

  private async hello(kind: 'ask' | 'answer'): Promise<void> {
    try {
      await this.sql.notify(
        NOTIFY_CHANNEL,
        JSON.stringify({ origin: this.origin, hello: kind } satisfies Message),
      )
    } catch {
      // Best effort: a peer that misses it still hears this instance's answer to its own ask.
    }
  }

  private receive(payload: string): void {
    let message: Message
    try {
      message = JSON.parse(payload) as Message
    } catch {
      return
    }
    if (message.origin === this.origin) return
    this.peers = true
    if ('hello' in message) {
      if (message.hello === 'ask') void this.hello('answer')
      return
    }
    if (!this.local.hasSubscribers(message.turnId)) return
    const turnId = message.turnId
    const previous = this.queues.get(turnId) ?? Promise.resolve()
    // One queue per turn keeps seq order even when a pointer must be read back first.
    const next = previous
      .then(async () =>
        this.deliver(turnId, 'events' in message ? message.events : await this.readPointer(message)),
      )
      .catch(() => {})
    this.queues.set(turnId, next)
    void next.then(() => {
      if (this.queues.get(turnId) === next) this.queues.delete(turnId)
    })
  }

  private async readPointer(message: {
    turnId: string
    fromSeq: number
    toSeq: number
  }): Promise<TurnEvent[]> {
    const from = Math.max(message.fromSeq - 1, this.delivered.get(message.turnId) ?? 0)
    const wanted = message.toSeq - from
    if (wanted <= 0) return []
    const deadline = Date.now() + this.pointerWaitMs
    // The publisher may notify before its batched log write lands: poll briefly for it.
    for (;;) {
      const events = (await this.readEvents(message.turnId, from, wanted)).filter(
        (event) => event.seq <= message.toSeq,
      )
      const last = events[events.length - 1]
      if ((last && last.seq >= message.toSeq) || Date.now() >= deadline) return events
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  private deliver(turnId: string, events: TurnEvent[]): void {
    if (!this.local.hasSubscribers(turnId)) return
    let last = this.delivered.get(turnId) ?? 0
    const fresh: TurnEvent[] = []
    for (const event of [...events].sort((a, b) => a.seq - b.seq)) {
      if (event.seq <= last) continue
      fresh.push(event)
      last = event.seq
    }
    if (fresh.length === 0) return
    this.delivered.set(turnId, last)
    this.local.publish(turnId, fresh)
  }
}
