import type { TurnEvent } from '../contracts/events.ts'
import { type ContextItem, type ItemBody, userText } from '../contracts/items.ts'
import { LIMITS } from '../contracts/limits.ts'
import {
  EditInput,
  isTerminal,
  RegenerateInput,
  SendInput,
  type Turn,
  TurnSettings,
} from '../contracts/turn.ts'
import { ConflictError, NotFoundError, ParleyError } from '../errors.ts'
import type { LiveBus } from '../ports/live.ts'
import type { Provider } from '../ports/provider.ts'
import type { Stores, TurnWithItems } from '../ports/stores.ts'
import { type Clock, systemClock } from '../ports/system.ts'
import { tokenCounter, warmUpTokenizer } from '../tokens.ts'
import type { ToolRegistry } from '../tools/registry.ts'
import { parseInput } from '../validation.ts'
import type { StartedTurn, TurnService } from './api.ts'
import { type AttachOptions, attachEvents } from './attach.ts'
import { DEFAULT_EVENT_BATCH, type EventBatchOptions } from './event-writer.ts'
import { requestFingerprint } from './fingerprint.ts'
import { itemBody } from './items.ts'
import { type OrchestratorLogEntry, type OrchestratorObserver, TurnRun } from './turn-run.ts'

export interface OrchestratorOptions {
  stores: Stores
  provider: Provider
  /** Live delivery; the persistence package's bus (LISTEN/NOTIFY on Postgres) or `InProcessBus`. */
  bus: LiveBus
  tools: ToolRegistry
  clock?: Clock
  /** A running turn's lease; renewed every leaseMs/3 (default 30 s). */
  leaseMs?: number
  /** Model steps (provider calls) per turn (default LIMITS.maxToolSteps). */
  maxSteps?: number
  /** How often `start()` sweeps expired leases (default: leaseMs). */
  sweepIntervalMs?: number
  /** How long `stop()` waits for running turns (default 10 s). */
  drainMs?: number
  /** When events are written to the durable log (defaults: 64 events or 50 ms). */
  eventBatch?: Partial<EventBatchOptions>
  /** How long a silent subscriber waits before checking the log and the turn itself (default 2 s). */
  attachPollMs?: number
  observer?: OrchestratorObserver
  log?: (entry: OrchestratorLogEntry) => void
}

/** What a claim needs once a send, regenerate or edit has been resolved. */
interface ClaimRequest {
  userId: string
  conversationId: string
  requestId: string
  fingerprint: string
  parentTurnId: string | null
  /** A send: a null parentTurnId means the conversation's head at the claim. */
  parentFromHead?: boolean
  input: ItemBody[]
  model: string
  instructions: string | null
  settings: TurnSettings
}

/**
 * The turn service. Claims request ids (idempotency), runs turns in the background (the tool
 * loop, batched durable events, live delivery, leases), and lets any number of subscribers
 * attach and resume. See the package README for the guarantees.
 */
export class Orchestrator implements TurnService {
  readonly #stores: Stores
  readonly #provider: Provider
  readonly #bus: LiveBus
  readonly #tools: ToolRegistry
  readonly #clock: Clock
  readonly #leaseMs: number
  readonly #maxSteps: number
  readonly #sweepIntervalMs: number
  readonly #drainMs: number
  readonly #batch: EventBatchOptions
  readonly #pollMs: number
  readonly #observer: OrchestratorObserver
  readonly #log: (entry: OrchestratorLogEntry) => void
  readonly #running = new Map<string, TurnRun>()
  #accepting = true
  #sweepTimer: ReturnType<typeof setInterval> | null = null
  #sweeping: Promise<void> | null = null

  constructor(options: OrchestratorOptions) {
    this.#stores = options.stores
    this.#provider = options.provider
    this.#bus = options.bus
    this.#tools = options.tools
    this.#clock = options.clock ?? systemClock
    this.#leaseMs = options.leaseMs ?? 30_000
    this.#maxSteps = options.maxSteps ?? LIMITS.maxToolSteps
    this.#sweepIntervalMs = options.sweepIntervalMs ?? this.#leaseMs
    this.#drainMs = options.drainMs ?? 10_000
    this.#batch = { ...DEFAULT_EVENT_BATCH, ...options.eventBatch }
    this.#pollMs = options.attachPollMs ?? 2000
    this.#observer = options.observer ?? {}
    this.#log = options.log ?? (() => {})
    if (!(this.#leaseMs > 0) || !(this.#maxSteps >= 1)) {
      throw new TypeError('leaseMs must be positive and maxSteps at least 1')
    }
  }

  /** Turns running in this process. */
  get runningTurns(): number {
    return this.#running.size
  }

  async send(userId: string, raw: SendInput): Promise<StartedTurn> {
    this.#assertAccepting()
    const { input, settings, items, fingerprint } = await sendRequest(raw)
    return this.#claim({
      userId,
      conversationId: input.conversationId,
      requestId: input.requestId,
      fingerprint,
      // The head is read by the claim itself: no separate read of the conversation first.
      parentTurnId: input.parentTurnId ?? null,
      parentFromHead: true,
      input: items,
      model: input.model ?? this.#provider.defaultModel,
      instructions: input.instructions ?? null,
      settings,
    })
  }

  async sentTurn(userId: string, raw: SendInput, turnId: string): Promise<Turn> {
    const { input, fingerprint } = await sendRequest(raw)
    const found = await this.#mustGet(userId, turnId)
    // Another request's turn is answered like an unknown one.
    if (found.turn.requestId !== input.requestId) throw new NotFoundError('turn', turnId)
    if ((await this.#stores.turns.fingerprintOf(userId, turnId)) !== fingerprint) {
      throw new ConflictError(
        'idempotency_key_reused',
        'This request id was already used for a different request',
      )
    }
    return found.turn
  }

  async regenerate(userId: string, raw: RegenerateInput): Promise<StartedTurn> {
    this.#assertAccepting()
    const input = parseInput(RegenerateInput, raw)
    const original = await this.#mustGet(userId, input.turnId)
    const fingerprint = await requestFingerprint({
      kind: 'regenerate',
      turnId: input.turnId,
      model: input.model ?? null,
    })
    return this.#claim({
      userId,
      conversationId: original.turn.conversationId,
      requestId: input.requestId,
      fingerprint,
      parentTurnId: original.turn.parentTurnId,
      input: original.input.map(itemBody),
      model: input.model ?? original.turn.model,
      instructions: original.turn.instructions,
      settings: original.turn.settings,
    })
  }

  async edit(userId: string, raw: EditInput): Promise<StartedTurn> {
    this.#assertAccepting()
    const input = parseInput(EditInput, raw)
    const original = await this.#mustGet(userId, input.turnId)
    const items: ItemBody[] = typeof input.input === 'string' ? [userText(input.input)] : input.input
    const fingerprint = await requestFingerprint({ kind: 'edit', turnId: input.turnId, input: items })
    return this.#claim({
      userId,
      conversationId: original.turn.conversationId,
      requestId: input.requestId,
      fingerprint,
      parentTurnId: original.turn.parentTurnId,
      input: items,
      model: original.turn.model,
      instructions: original.turn.instructions,
      settings: original.turn.settings,
    })
  }

  attach(
    userId: string,
    turnId: string,
    afterSeq: number,
    signal?: AbortSignal,
    options?: AttachOptions,
  ): AsyncIterable<TurnEvent> {
    return attachEvents(
      {
        stores: this.#stores,
        bus: this.#bus,
        clock: this.#clock,
        local: (id) => this.#running.get(id)?.writer,
        localTurn: (id) => {
          const run = this.#running.get(id)
          return run ? { userId: run.userId, turn: run.turn } : undefined
        },
        pollMs: this.#pollMs,
      },
      userId,
      turnId,
      afterSeq,
      signal,
      options,
    )
  }

  /**
   * Cancels a turn running in this process and returns it as stored (`cancelled`, with its
   * partial output). A terminal turn is returned unchanged. A turn running in another instance
   * cannot be reached from here: it is returned as it is now, still running (best effort).
   */
  async cancel(userId: string, turnId: string): Promise<Turn> {
    const found = await this.#mustGet(userId, turnId)
    if (isTerminal(found.turn.status)) return found.turn
    const run = this.#running.get(turnId)
    if (!run || run.userId !== userId) return found.turn
    run.cancel()
    await run.done
    return (await this.#mustGet(userId, turnId)).turn
  }

  async get(userId: string, turnId: string): Promise<TurnWithItems> {
    return this.#mustGet(userId, turnId)
  }

  /** Sweeps expired leases now and then every `sweepIntervalMs`; loads the tokenizer. */
  async start(): Promise<void> {
    this.#accepting = true
    warmUpTokenizer()
    if (!this.#sweepTimer) {
      this.#sweepTimer = setInterval(() => void this.sweep(), this.#sweepIntervalMs)
      unref(this.#sweepTimer)
    }
    await this.sweep()
  }

  /** Marks turns whose lease expired as `interrupted` (their process died). */
  sweep(): Promise<void> {
    this.#sweeping ??= (async () => {
      try {
        // Not our own runs: a run late to renew its lease is alive, on a loaded process.
        const swept = await this.#stores.turns.sweepExpired([...this.#running.keys()])
        for (const turn of swept) {
          // Our own run overslept its lease (a stalled event loop): the store has moved on.
          this.#running.get(turn.id)?.loseLease()
          this.#log({ level: 'warn', msg: 'turn interrupted: its lease expired', turnId: turn.id })
        }
      } catch (err) {
        this.#log({ level: 'error', msg: 'lease sweep failed', err })
      } finally {
        this.#sweeping = null
      }
    })()
    return this.#sweeping
  }

  /**
   * Stops accepting sends and waits up to `drainMs` for running turns. Turns still running then
   * are left to lease recovery: once this process exits, their leases expire and a sweep
   * elsewhere marks them `interrupted`.
   */
  async stop(): Promise<void> {
    this.#accepting = false
    if (this.#sweepTimer) clearInterval(this.#sweepTimer)
    this.#sweepTimer = null
    const runs = [...this.#running.values()].map((run) => run.done)
    if (runs.length === 0) return
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      Promise.allSettled(runs),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#drainMs)
      }),
    ])
    clearTimeout(timer)
  }

  #assertAccepting(): void {
    if (!this.#accepting) throw new ParleyError('upstream_unavailable', 'The server is shutting down', 503)
  }

  async #mustGet(userId: string, turnId: string): Promise<TurnWithItems> {
    const found = await this.#stores.turns.get(userId, turnId)
    if (!found) throw new NotFoundError('turn', turnId)
    return found
  }

  async #claim(request: ClaimRequest): Promise<StartedTurn> {
    const counter = await tokenCounter()
    const result = await this.#stores.turns.claim({
      ...request,
      inputTokenCounts: request.input.map((item) => counter.countItem(item)),
      provider: this.#provider.name,
      leaseMs: this.#leaseMs,
      setHead: true,
      // The run starts now: the claim marks the turn streaming and reads its context with it.
      start: true,
    })
    switch (result.status) {
      case 'claimed':
        this.#dispatch(request.userId, result.turn, result.context ?? null, result.parentUpstreamResponseId)
        return { turn: result.turn, replayed: false }
      case 'in_flight':
      case 'completed':
        return { turn: result.turn, replayed: true }
      case 'conflict':
        throw new ConflictError(
          result.reason,
          result.reason === 'idempotency_key_reused'
            ? 'This request id was already used for a different request'
            : 'Another turn of this conversation is still running',
        )
      case 'not_found':
        if (request.parentFromHead) {
          // Answered as before the head moved into the claim: an unknown conversation first.
          const conversation = request.parentTurnId
            ? await this.#stores.conversations.get(request.userId, request.conversationId)
            : null
          if (!conversation) throw new NotFoundError('conversation', request.conversationId)
        }
        throw new NotFoundError(request.parentTurnId ? 'conversation or parent turn' : 'conversation')
    }
  }

  /**
   * Runs the turn in the background: send returns without waiting for it. `context` is the
   * context the claim started the turn with; null when the store only claimed it (`pending`).
   * `parentUpstreamResponseId`: what the claim said of the parent's upstream response id.
   */
  #dispatch(
    userId: string,
    turn: Turn,
    context: ContextItem[] | null,
    parentUpstreamResponseId?: string | null,
  ): void {
    const run = new TurnRun(
      {
        stores: this.#stores,
        provider: this.#provider,
        tools: this.#tools,
        bus: this.#bus,
        clock: this.#clock,
        leaseMs: this.#leaseMs,
        maxSteps: this.#maxSteps,
        batch: this.#batch,
        observer: this.#observer,
        log: this.#log,
      },
      userId,
      turn,
      context,
      parentUpstreamResponseId,
    )
    this.#running.set(turn.id, run)
    run.done
      .catch((err) => this.#log({ level: 'error', msg: 'turn run crashed', turnId: turn.id, err }))
      .finally(() => this.#running.delete(turn.id))
  }
}

/** A send's input, parsed, with the fingerprint of what the client asked for (see fingerprint.ts). */
async function sendRequest(raw: SendInput) {
  const input = parseInput(SendInput, raw)
  const settings = parseInput(TurnSettings, input.settings ?? {})
  const items: ItemBody[] = typeof input.input === 'string' ? [userText(input.input)] : input.input
  const fingerprint = await requestFingerprint({
    kind: 'send',
    conversationId: input.conversationId,
    input: items,
    parentTurnId: input.parentTurnId ?? null,
    model: input.model ?? null,
    instructions: input.instructions ?? null,
    settings,
  })
  return { input, settings, items, fingerprint }
}

function unref(timer: unknown): void {
  if (timer && typeof timer === 'object' && 'unref' in timer && typeof timer.unref === 'function')
    timer.unref()
}
