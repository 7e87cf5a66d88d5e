import { eventId, type TurnEvent, type TurnEventBody } from '../contracts/events.ts'
import type { LiveBus } from '../ports/live.ts'
import type { EventLog } from '../ports/stores.ts'

export interface EventBatchOptions {
  /** Flush once this many events wait (default 64). */
  maxEvents: number
  /** Flush at most this long after the first waiting event (default 50 ms). */
  maxDelayMs: number
}

const TERMINAL_RETRIES = 3

export const DEFAULT_EVENT_BATCH: EventBatchOptions = { maxEvents: 64, maxDelayMs: 50 }

/**
 * The event stream of one running turn: numbers events from seq 1, publishes each one on the
 * bus at once, and appends them to the durable log in batches (one write per batch, not per
 * token). It also keeps every event in memory while the turn runs, so that subscribers in this
 * process fill gaps without reading the log.
 */
export class TurnEventWriter {
  readonly turnId: string
  readonly #log: EventLog
  readonly #bus: LiveBus
  readonly #options: EventBatchOptions
  readonly #onError: (error: unknown) => void
  readonly #events: TurnEvent[] = []
  #pending: TurnEvent[] = []
  #timer: ReturnType<typeof setTimeout> | null = null
  #chain: Promise<void> = Promise.resolve()

  constructor(
    turnId: string,
    log: EventLog,
    bus: LiveBus,
    options: EventBatchOptions,
    onError: (error: unknown) => void,
  ) {
    this.turnId = turnId
    this.#log = log
    this.#bus = bus
    this.#options = options
    this.#onError = onError
  }

  get lastSeq(): number {
    return this.#events.length
  }

  /** Events with seq > afterSeq, from memory. */
  eventsAfter(afterSeq: number): TurnEvent[] {
    return this.#events.slice(Math.max(0, afterSeq))
  }

  emit(body: TurnEventBody): TurnEvent {
    const event = this.#number(body)
    this.#pending.push(event)
    this.#bus.publish(this.turnId, [event])
    if (this.#pending.length >= this.#options.maxEvents) void this.flush()
    else this.#timer ??= setTimeout(() => void this.flush(), this.#options.maxDelayMs)
    return event
  }

  /**
   * The end of the stream, for a caller that stores it in the statement that ends the turn:
   * numbers `bodies` (the terminal events) after everything emitted so far and hands them over
   * with the batch still waiting. Nothing of it is in memory or published before `commit`, which
   * the caller calls once the statement stored the events: they are published after any batch
   * still being written, so that whoever sees the terminal event live can rely on the log
   * holding the whole stream. `abort`: the statement failed or stored nothing, so the waiting
   * batch is put back and the terminal events never existed.
   */
  closing(bodies: TurnEventBody[]): { events: TurnEvent[]; commit(): Promise<void>; abort(): void } {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    const waiting = this.#pending
    this.#pending = []
    const first = this.#events.length + 1
    const terminal = bodies.map(
      (body, index): TurnEvent => ({
        ...body,
        id: eventId(this.turnId, first + index),
        turnId: this.turnId,
        seq: first + index,
      }),
    )
    return {
      events: [...waiting, ...terminal],
      commit: async () => {
        this.#events.push(...terminal)
        await this.flush()
        // A batch written before failed and was put back: retry briefly, since no later flush will come.
        for (let retry = 1; retry <= TERMINAL_RETRIES && this.#pending.length > 0; retry++) {
          await new Promise((resolve) => setTimeout(resolve, 50 * retry))
          await this.flush()
        }
        this.#bus.publish(this.turnId, terminal)
      },
      abort: () => {
        this.#pending = [...waiting, ...this.#pending]
      },
    }
  }

  /** Writes the waiting events; batches go out in order, one at a time. */
  flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer)
      this.#timer = null
    }
    const batch = this.#pending
    this.#pending = []
    if (batch.length === 0) return this.#chain
    this.#chain = this.#chain.then(async () => {
      try {
        await this.#log.append(batch)
      } catch (error) {
        // Kept for the next flush: re-appending a seq is ignored by the log, so nothing doubles.
        this.#pending = [...batch, ...this.#pending]
        this.#onError(error)
      }
    })
    return this.#chain
  }

  /** Stops the batch timer without writing (the turn lost its lease: its log is no longer ours). */
  discard(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    this.#pending = []
  }

  #number(body: TurnEventBody): TurnEvent {
    const seq = this.#events.length + 1
    const event: TurnEvent = { ...body, id: eventId(this.turnId, seq), turnId: this.turnId, seq }
    this.#events.push(event)
    return event
  }
}
