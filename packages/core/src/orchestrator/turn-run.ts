import type { EventItem, TurnEventBody } from '../contracts/events.ts'
import {
  assistantText,
  type ContextItem,
  type Item,
  type ItemBody,
  type MessageItemBody,
} from '../contracts/items.ts'
import { storableText } from '../contracts/text.ts'
import type { FunctionToolSpec, Turn, TurnError, TurnStatus } from '../contracts/turn.ts'
import { addUsage, type Usage } from '../contracts/usage.ts'
import { ParleyError, toParleyError } from '../errors.ts'
import { newId } from '../ids.ts'
import type { LiveBus } from '../ports/live.ts'
import type { Provider, ProviderRequest, ProviderTool } from '../ports/provider.ts'
import type { Stores, UsageLedgerEntry } from '../ports/stores.ts'
import type { Clock } from '../ports/system.ts'
import { type TokenCounter, tokenCounter } from '../tokens.ts'
import type { ToolRegistry } from '../tools/registry.ts'
import { fitContext, outputReserve, sanitizeContext } from './context.ts'
import { type EventBatchOptions, TurnEventWriter } from './event-writer.ts'
import { toEventItem } from './items.ts'

export interface OrchestratorObserver {
  turnStarted?(): void
  /** Time from the start of the turn to its first streamed output. */
  firstToken?(ms: number): void
  /** One provider call (one model step) and whether it ended without error. */
  providerCall?(ms: number, ok: boolean): void
  turnFinished?(status: TurnStatus, ms: number): void
}

export interface OrchestratorLogEntry {
  level: 'info' | 'warn' | 'error'
  msg: string
  turnId?: string
  err?: unknown
}

export interface RunDeps {
  stores: Stores
  provider: Provider
  tools: ToolRegistry
  bus: LiveBus
  clock: Clock
  leaseMs: number
  maxSteps: number
  batch: EventBatchOptions
  observer: OrchestratorObserver
  log: (entry: OrchestratorLogEntry) => void
}

/** Why a run's signal was aborted. */
type StopReason = 'cancel' | 'lease_lost'

class RunStopped extends Error {
  override name = 'AbortError'
  readonly why: StopReason
  constructor(why: StopReason) {
    super(why === 'cancel' ? 'The turn was cancelled' : 'The turn lost its lease')
    this.why = why
  }
}

export class StepLimitError extends ParleyError {
  constructor(maxSteps: number) {
    super('step_limit', `The turn reached its limit of ${maxSteps} model steps`, 422)
  }
}

interface OpenMessage {
  /** Provisional id: events of a message carry it from item.started to item.completed. */
  id: string
  text: string
}

interface ToolCallRequest {
  callId: string
  name: string
  arguments: string
}

/**
 * One turn running in this process: the tool loop, event emission, lease renewal, and the
 * one `finish` that stores the outcome before the terminal event is emitted.
 */
export class TurnRun {
  readonly turnId: string
  readonly userId: string
  readonly writer: TurnEventWriter
  readonly done: Promise<void>
  readonly #deps: RunDeps
  readonly #controller = new AbortController()
  #turn: Turn
  #counter!: TokenCounter
  #leaseTimer: ReturnType<typeof setInterval> | null = null
  readonly #startedAt: number
  #firstTokenSeen = false
  #open: OpenMessage | null = null
  /** Output produced so far (stored), oldest first: part of the context of later steps. */
  readonly #output: ItemBody[] = []
  /** The same items as stored (with their ids), for the terminal event. */
  readonly #storedOutput: EventItem[] = []
  #usage: Usage | null = null
  readonly #ledger: UsageLedgerEntry[] = []
  #upstreamResponseId: string | null = null
  #truncated = false
  /** The context read together with the start of the turn, when the store offers that. */
  #stored: ContextItem[] | null = null
  /**
   * The message that ended the last step, complete but not stored yet: `finish` stores it in
   * the same statement as the end of the turn, then `item.completed` goes out.
   */
  #final: OpenMessage | null = null
  /** The parent's upstream response id, when the claim read it. */
  #parentUpstreamId: string | null | undefined

  /**
   * `started`: the context of a turn its claim already started (`streaming`); null for a
   * `pending` turn, which the run starts itself. `parentUpstreamResponseId`: the parent's upstream
   * response id as the claim read it (null: none to continue from); undefined: read it when needed.
   */
  constructor(
    deps: RunDeps,
    userId: string,
    turn: Turn,
    started: ContextItem[] | null = null,
    parentUpstreamResponseId?: string | null,
  ) {
    this.#deps = deps
    this.userId = userId
    this.turnId = turn.id
    this.#turn = turn
    this.#stored = started
    this.#parentUpstreamId = parentUpstreamResponseId
    this.#startedAt = deps.clock.now().getTime()
    this.writer = new TurnEventWriter(turn.id, deps.stores.events, deps.bus, deps.batch, (err) =>
      deps.log({
        level: 'warn',
        msg: 'event log append failed; retrying with the next batch',
        turnId: turn.id,
        err,
      }),
    )
    // Started on the next microtask so that the caller can register the run before any event.
    this.done = Promise.resolve().then(() => this.#run())
  }

  /** Stops the provider call; the run stores what was produced as `cancelled`. */
  cancel(): void {
    if (!this.#controller.signal.aborted) this.#controller.abort(new RunStopped('cancel'))
  }

  /** The turn was swept as interrupted by someone else: stop without storing anything more. */
  loseLease(): void {
    if (!this.#controller.signal.aborted) this.#controller.abort(new RunStopped('lease_lost'))
  }

  /** The turn as this run knows it (`pending` until its run starts). */
  get turn(): Turn {
    return this.#turn
  }

  get #signal(): AbortSignal {
    return this.#controller.signal
  }

  #elapsed(): number {
    return Math.max(0, this.#deps.clock.now().getTime() - this.#startedAt)
  }

  async #run(): Promise<void> {
    const { stores, observer, log } = this.#deps
    observer.turnStarted?.()
    let marked: boolean
    try {
      this.#counter = await tokenCounter()
      if (this.#stored !== null) {
        marked = true
      } else if (stores.turns.startStreaming) {
        // The status change and the context read in one round trip, where the store can.
        const context = await stores.turns.startStreaming(this.userId, this.turnId, this.#deps.leaseMs)
        this.#stored = context
        marked = context !== null
      } else {
        marked = await stores.turns.markStreaming(this.turnId, this.#deps.leaseMs)
      }
    } catch (err) {
      // Nothing was dispatched: the lease sweep turns the pending turn into `interrupted`.
      log({ level: 'error', msg: 'could not start the turn', turnId: this.turnId, err })
      return
    }
    if (!marked) {
      log({ level: 'warn', msg: 'turn was no longer pending when its run started', turnId: this.turnId })
      return
    }
    this.#turn = { ...this.#turn, status: 'streaming' }
    this.writer.emit({ type: 'turn.started', turn: this.#turn })
    this.#startLeaseRenewal()

    let status: 'completed' | 'failed' | 'cancelled' = 'completed'
    let error: TurnError | null = null
    try {
      await this.#loop()
    } catch (err) {
      const stop = this.#signal.reason
      if (this.#signal.aborted && stop instanceof RunStopped && stop.why === 'lease_lost') {
        this.#stopLeaseRenewal()
        this.writer.discard()
        log({ level: 'warn', msg: 'turn lost its lease and was left interrupted', turnId: this.turnId })
        observer.turnFinished?.('interrupted', this.#elapsed())
        return
      }
      if (this.#signal.aborted) {
        status = 'cancelled'
      } else {
        status = 'failed'
        const parley = toParleyError(err)
        if (parley.reason === 'internal')
          log({ level: 'error', msg: 'turn failed', turnId: this.turnId, err })
        error = parley.toJSON()
      }
    }
    await this.#finish(status, error)
  }

  #startLeaseRenewal(): void {
    const { stores, leaseMs, log } = this.#deps
    this.#leaseTimer = setInterval(
      () => {
        stores.turns.renewLease(this.turnId, leaseMs).then(
          (renewed) => {
            if (!renewed && this.#leaseTimer) this.loseLease()
          },
          (err) => log({ level: 'warn', msg: 'lease renewal failed; will retry', turnId: this.turnId, err }),
        )
      },
      Math.max(1, Math.floor(leaseMs / 3)),
    )
  }

  #stopLeaseRenewal(): void {
    if (this.#leaseTimer) clearInterval(this.#leaseTimer)
    this.#leaseTimer = null
  }

  async #loop(): Promise<void> {
    const { provider, tools, maxSteps } = this.#deps
    const settings = this.#turn.settings
    const context = await this.#context()
    const clientTools = new Map(settings.tools.map((tool) => [tool.name, tool]))
    const offered: ProviderTool[] = provider.capabilities.tools
      ? [
          ...tools.providerTools(settings.serverTools).filter((tool) => !clientTools.has(tool.name)),
          ...settings.tools.map(clientTool),
        ]
      : []
    let continuation = context.continuation

    for (let step = 1; ; step++) {
      this.#signal.throwIfAborted()
      const calls = await this.#step(step, [...context.items, ...this.#output], continuation, offered)
      if (calls.length === 0) return
      // The model wants another step after this one: that is where the limit bites.
      if (step >= maxSteps) throw new StepLimitError(maxSteps)

      const produced: ItemBody[] = []
      for (const call of calls) {
        if (clientTools.has(call.name)) continue
        produced.push(await this.#runTool(call))
      }
      // Client-declared tools are run by the client: the turn ends with their calls as output
      // and the client sends the function_call_output items in its next request.
      if (calls.some((call) => clientTools.has(call.name))) return
      continuation =
        provider.capabilities.nativeState && this.#lastStepUpstreamId
          ? { previousResponseId: this.#lastStepUpstreamId, newInput: produced }
          : undefined
    }
  }

  #lastStepUpstreamId: string | null = null

  async #context(): Promise<{ items: ItemBody[]; continuation: ProviderRequest['continuation'] }> {
    const { stores, provider } = this.#deps
    const turn = this.#turn
    const stored = this.#stored ?? (await stores.turns.context(this.userId, turn.id))
    this.#stored = null
    const window = provider.contextWindow(turn.model)
    let bodies: ItemBody[]
    if (window === null) {
      bodies = stored.map((item) => item.body)
    } else {
      const instructions = turn.instructions ? this.#counter.count(turn.instructions) : 0
      const budget = window - outputReserve(window, turn.settings.maxOutputTokens) - instructions
      const fit = fitContext(stored, turn.id, budget)
      bodies = fit.items
      this.#truncated = fit.truncated
    }
    const items = sanitizeContext(bodies)

    let continuation: ProviderRequest['continuation']
    if (provider.capabilities.nativeState && turn.parentTurnId) {
      const previousResponseId = await this.#parentUpstreamResponseId(turn.parentTurnId)
      if (previousResponseId) {
        const own = stored.filter((item) => item.turnId === turn.id).map((item) => item.body)
        continuation = { previousResponseId, newInput: own }
      }
    }
    return { items, continuation }
  }

  /** The upstream response id of a parent that completed with one: from the claim, else read. */
  async #parentUpstreamResponseId(parentTurnId: string): Promise<string | null> {
    if (this.#parentUpstreamId !== undefined) return this.#parentUpstreamId
    const parent = await this.#deps.stores.turns.get(this.userId, parentTurnId)
    return parent?.turn.status === 'completed' ? parent.turn.upstreamResponseId : null
  }

  /** One provider call: streams text, stores items as they complete, returns the tool calls. */
  async #step(
    step: number,
    input: ItemBody[],
    continuation: ProviderRequest['continuation'],
    offered: ProviderTool[],
  ): Promise<ToolCallRequest[]> {
    const { provider, observer } = this.#deps
    const turn = this.#turn
    const settings = turn.settings
    const request: ProviderRequest = {
      model: turn.model,
      instructions: turn.instructions,
      input,
      ...(continuation ? { continuation } : {}),
      tools: offered,
      toolChoice: settings.toolChoice,
      parallelToolCalls: settings.parallelToolCalls,
      temperature: settings.temperature,
      topP: settings.topP,
      maxOutputTokens: settings.maxOutputTokens,
      signal: this.#signal,
    }
    const calls: ToolCallRequest[] = []
    const started = this.#deps.clock.now().getTime()
    let reached = false
    let reported: Usage | null = null
    let upstreamId: string | null = null
    let produced = ''
    const text = new StorableText()
    let ok = false
    try {
      for await (const event of provider.stream(request)) {
        reached = true
        switch (event.type) {
          case 'started':
            upstreamId = event.upstreamResponseId ?? upstreamId
            break
          case 'text.delta': {
            const delta = text.push(event.delta)
            if (delta === '') break
            this.#sawOutput()
            produced += delta
            this.#emitText(delta)
            break
          }
          case 'tool_call': {
            this.#sawOutput()
            this.#emitText(text.end())
            await this.#closeMessage()
            const call: ToolCallRequest = {
              callId: event.callId,
              name: event.name,
              arguments: event.arguments,
            }
            produced += call.name + call.arguments
            calls.push(call)
            await this.#storeCall(
              call,
              settings.tools.some((tool) => tool.name === call.name) ? 'client' : 'server',
            )
            break
          }
          case 'reasoning': {
            await this.#closeMessage()
            const [item] = await this.#store([event.item])
            if (item) {
              this.writer.emit({ type: 'item.started', itemId: item.id, itemType: 'reasoning' })
              this.writer.emit({ type: 'item.completed', item: toEventItem(item) })
            }
            break
          }
          case 'usage':
            reported = reported ? addUsage(reported, event.usage) : event.usage
            break
          case 'done':
            upstreamId = event.upstreamResponseId ?? upstreamId
            break
        }
      }
      this.#emitText(text.end())
      // A step without tool calls ends the turn: its message is stored by `finish`.
      if (calls.length === 0 && this.#open) {
        this.#final = this.#open
        this.#open = null
      } else {
        await this.#closeMessage()
      }
      ok = true
    } finally {
      observer.providerCall?.(Math.max(0, this.#deps.clock.now().getTime() - started), ok)
      if (reached) this.#account(step, request, reported, produced, upstreamId)
      this.#lastStepUpstreamId = upstreamId
      if (upstreamId) this.#upstreamResponseId = upstreamId
    }
    return calls
  }

  /** Text of the open message (opened by the first), streamed and kept for storing. */
  #emitText(delta: string): void {
    if (delta === '') return
    if (!this.#open) {
      this.#open = { id: newId('item'), text: '' }
      this.writer.emit({ type: 'item.started', itemId: this.#open.id, itemType: 'message' })
    }
    this.#open.text += delta
    this.writer.emit({ type: 'text.delta', itemId: this.#open.id, delta })
  }

  #sawOutput(): void {
    if (this.#firstTokenSeen) return
    this.#firstTokenSeen = true
    this.#deps.observer.firstToken?.(this.#elapsed())
  }

  /** One ledger row per provider call: reported usage, or our own count marked estimated. */
  #account(
    step: number,
    request: ProviderRequest,
    reported: Usage | null,
    produced: string,
    upstreamId: string | null,
  ) {
    let usage = reported
    if (!usage) {
      const counter = this.#counter
      const inputTokens =
        (request.instructions ? counter.count(request.instructions) : 0) +
        request.input.reduce((sum, item) => sum + counter.countItem(item), 0)
      const outputTokens = counter.count(produced)
      usage = {
        inputTokens,
        outputTokens,
        totalTokens: inputTokens + outputTokens,
        cachedInputTokens: 0,
        reasoningTokens: 0,
        estimated: true,
      }
    }
    this.#usage = this.#usage ? addUsage(this.#usage, usage) : usage
    this.#ledger.push({
      provider: this.#deps.provider.name,
      model: this.#turn.model,
      upstreamResponseId: upstreamId ?? `${this.turnId}:${step}`,
      usage,
    })
  }

  async #store(bodies: ItemBody[], ids?: (string | undefined)[]): Promise<Item[]> {
    const stored = await this.#deps.stores.turns.appendOutput(
      this.turnId,
      bodies,
      bodies.map((body) => this.#counter.countItem(body)),
      ids,
    )
    this.#output.push(...bodies)
    this.#storedOutput.push(...stored.map(toEventItem))
    return stored
  }

  /** Stores the streamed message, then tells subscribers it is complete. */
  async #closeMessage(): Promise<void> {
    const open = this.#open
    if (!open) return
    // Stored under the id it streamed with, so events, `/v1` and history name it alike.
    const [item] = await this.#store([assistantText(open.text)], [open.id])
    this.#open = null
    if (item) this.writer.emit({ type: 'item.completed', item: toEventItem(item) })
  }

  async #storeCall(call: ToolCallRequest, executor: 'server' | 'client'): Promise<void> {
    const [item] = await this.#store([
      {
        type: 'function_call',
        call_id: call.callId,
        name: call.name,
        arguments: call.arguments,
        status: 'completed',
      },
    ])
    if (!item) return
    this.writer.emit({ type: 'item.started', itemId: item.id, itemType: 'function_call' })
    this.writer.emit({
      type: 'tool.call',
      itemId: item.id,
      callId: call.callId,
      name: call.name,
      arguments: call.arguments,
      executor,
    })
    this.writer.emit({ type: 'item.completed', item: toEventItem(item) })
  }

  async #runTool(call: ToolCallRequest): Promise<ItemBody> {
    const outcome = await this.#deps.tools.execute(call.name, call.arguments, {
      turnId: this.turnId,
      callId: call.callId,
      userId: this.userId,
      conversationId: this.#turn.conversationId,
      signal: this.#signal,
    })
    const body: ItemBody = {
      type: 'function_call_output',
      call_id: call.callId,
      output: outcome.output,
      status: 'completed',
      is_error: outcome.isError,
      duration_ms: outcome.durationMs,
    }
    const [item] = await this.#store([body])
    if (item) {
      this.writer.emit({ type: 'item.started', itemId: item.id, itemType: 'function_call_output' })
      this.writer.emit({
        type: 'tool.result',
        itemId: item.id,
        callId: call.callId,
        name: call.name,
        output: outcome.output,
        isError: outcome.isError,
        durationMs: outcome.durationMs,
      })
      this.writer.emit({ type: 'item.completed', item: toEventItem(item) })
    }
    return body
  }

  /** Stores the outcome (partial text included), then emits the one terminal event. */
  async #finish(status: 'completed' | 'failed' | 'cancelled', error: TurnError | null): Promise<void> {
    const { stores, observer, log } = this.#deps
    // The output not stored yet, each under the id it streamed with.
    const rest: EventItem[] = []
    const final = this.#final
    this.#final = null
    if (final) rest.push({ ...assistantText(final.text), id: final.id })
    if (this.#open && this.#open.text !== '') {
      const partial: MessageItemBody = {
        type: 'message',
        role: 'assistant',
        status: 'incomplete',
        content: [{ type: 'output_text', text: this.#open.text, annotations: [] }],
      }
      rest.push({ ...partial, id: this.#open.id })
    }
    this.#open = null
    const restBodies = rest.map(({ id: _id, ...body }) => body)

    // The last events are built before the statement that ends the turn, which stores them with
    // it: everything they carry is known here (ids were minted as the items streamed, and the
    // end time is set by this run), so the turn's end and its log's end are one write.
    const output = [...this.#storedOutput, ...rest]
    const completedAt = new Date(
      Math.max(this.#deps.clock.now().getTime(), Date.parse(this.#turn.createdAt)),
    ).toISOString()
    const ended: Turn = {
      ...this.#turn,
      status,
      usage: this.#usage,
      error,
      upstreamResponseId: this.#upstreamResponseId,
      truncated: this.#truncated,
      completedAt,
    }
    const finalItem = final && rest.find((item) => item.id === final.id)
    const closingEvents: TurnEventBody[] = []
    if (finalItem) closingEvents.push({ type: 'item.completed', item: finalItem })
    if (this.#usage) closingEvents.push({ type: 'usage', usage: this.#usage })
    closingEvents.push(
      status === 'completed'
        ? { type: 'turn.completed', turn: ended, output }
        : status === 'cancelled'
          ? { type: 'turn.cancelled', turn: ended, output }
          : {
              type: 'turn.failed',
              turn: ended,
              output,
              error: error ?? { reason: 'internal', message: 'Internal error' },
            },
    )
    const closing = this.writer.closing(closingEvents)
    let stored: Awaited<ReturnType<Stores['turns']['finish']>>
    try {
      stored = await stores.turns.finish(this.turnId, {
        status,
        output: restBodies,
        outputTokenCounts: restBodies.map((body) => this.#counter.countItem(body)),
        outputIds: rest.map((item) => item.id),
        usage: this.#usage,
        ledger: this.#ledger,
        error,
        upstreamResponseId: this.#upstreamResponseId,
        truncated: this.#truncated,
        completedAt,
        events: closing.events,
      })
    } catch (err) {
      // Not stored, so no terminal event: the lease expires and the sweep marks it interrupted.
      closing.abort()
      this.#stopLeaseRenewal()
      await this.writer.flush()
      log({ level: 'error', msg: 'could not store the end of the turn', turnId: this.turnId, err })
      observer.turnFinished?.('interrupted', this.#elapsed())
      return
    }
    this.#stopLeaseRenewal()
    if (stored.turn.status !== status) {
      // Someone else ended it first (the lease sweep): its terminal event is already in the log.
      closing.abort()
      this.writer.discard()
      observer.turnFinished?.(stored.turn.status, this.#elapsed())
      return
    }
    this.#turn = stored.turn
    // Reported before the terminal event goes out, so that a watcher that ends on it sees the count.
    observer.turnFinished?.(status, this.#elapsed())
    await closing.commit()
  }
}

/**
 * A model's text, delta by delta, as Postgres can store it (see `storableText`). A surrogate
 * pair that an upstream cut between two deltas is held back and joined, not broken in two.
 */
class StorableText {
  #held = ''

  push(delta: string): string {
    let text = this.#held + delta
    this.#held = ''
    const last = text.charCodeAt(text.length - 1)
    if (last >= 0xd800 && last <= 0xdbff) {
      this.#held = text.slice(-1)
      text = text.slice(0, -1)
    }
    return storableText(text)
  }

  /** What is still held at the end of the text: a high surrogate no low one followed. */
  end(): string {
    const held = this.#held
    this.#held = ''
    return held === '' ? '' : storableText(held)
  }
}

function clientTool(tool: FunctionToolSpec): ProviderTool {
  return {
    name: tool.name,
    description: tool.description ?? '',
    parameters: tool.parameters ?? { type: 'object', properties: {} },
    strict: tool.strict ?? false,
  }
}
