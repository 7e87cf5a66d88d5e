import {
  builtinTools,
  type Conversation,
  isTerminalEvent,
  type LiveBus,
  Orchestrator,
  type OrchestratorOptions,
  type Stores,
  ToolRegistry,
  type TurnEvent,
  type TurnWithItems,
  tokenCounter,
} from '@parley/core'
import { createStores, type PersistentStores, schema } from '@parley/persistence'
import { ScriptedModel, type ScriptedModelOptions } from '@parley/providers/testing'

/** One database (PGlite in memory unless `url`), one user: what each test file shares. */
export async function openWorld(url?: string) {
  const stores = await createStores(url ? { url } : { memory: true })
  // The tokenizer's rank table loads once per worker; outside any single test's timeout.
  await Promise.all([stores.migrate(), tokenCounter()])
  const { user } = await stores.users.create('alice')
  const { user: other } = await stores.users.create('mallory')
  return {
    stores,
    userId: user.id,
    otherUserId: other.id,
    conversation: (): Promise<Conversation> => stores.conversations.create(user.id, { title: 'test' }),
    close: () => stores.close(),
  }
}
export type World = Awaited<ReturnType<typeof openWorld>>

export interface Engine {
  orchestrator: Orchestrator
  model: ScriptedModel
  tools: ToolRegistry
  stop(): Promise<void>
}

/** An orchestrator over the world's stores with a scripted model; stopped by `stop()`. */
export async function engine(
  stores: Stores & { bus: LiveBus },
  model: ScriptedModelOptions | ScriptedModel,
  options: Partial<OrchestratorOptions> = {},
): Promise<Engine> {
  const scripted = model instanceof ScriptedModel ? model : new ScriptedModel(model)
  const tools = new ToolRegistry()
  for (const tool of builtinTools) tools.register(tool)
  const orchestrator = new Orchestrator({
    stores,
    provider: scripted,
    bus: stores.bus,
    tools,
    drainMs: 2000,
    ...options,
  })
  await orchestrator.start()
  return { orchestrator, model: scripted, tools, stop: () => orchestrator.stop() }
}

export async function collect(events: AsyncIterable<TurnEvent>): Promise<TurnEvent[]> {
  const out: TurnEvent[] = []
  for await (const event of events) out.push(event)
  return out
}

/** The text a client shows: every text delta, in order. */
export function streamedText(events: TurnEvent[]): string {
  return events.map((event) => (event.type === 'text.delta' ? event.delta : '')).join('')
}

export function terminalOf(events: TurnEvent[]): TurnEvent {
  const last = events.at(-1)
  if (!last || !isTerminalEvent(last))
    throw new Error(`stream did not end with a terminal event: ${last?.type}`)
  return last
}

/** Waits until the turn reaches a terminal status (polling the store). */
export async function settled(world: World, turnId: string, timeoutMs = 10_000): Promise<TurnWithItems> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const found = await world.stores.turns.get(world.userId, turnId)
    if (found && ['completed', 'failed', 'cancelled', 'interrupted'].includes(found.turn.status)) return found
    if (Date.now() > until) throw new Error(`turn ${turnId} did not settle: ${found?.turn.status}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export async function ledgerRows(stores: PersistentStores, turnId: string) {
  // Filtered here: the server package does not depend on the query builder's operators.
  const rows = await stores.db.select().from(schema.usageLedger)
  return rows.filter((row) => row.turnId === turnId)
}

export function outputText(found: TurnWithItems): string {
  return found.output
    .map((item) =>
      item.type === 'message'
        ? item.content.map((part) => (part.type === 'output_text' ? part.text : '')).join('')
        : '',
    )
    .join('')
}

let counter = 0
export function requestId(): string {
  counter += 1
  return `req-${Date.now()}-${counter}`
}

export interface Disconnect {
  /** Events read before leaving (0: leave right after attaching). */
  after: number
  /** Leave by breaking out of the loop or by aborting the subscription's signal. */
  how: 'break' | 'abort'
  pauseMs: number
}

/**
 * A client on a flaky connection: attaches with the last seq it saw, leaves as planned,
 * reconnects, and finally reads to the end. Returns every event it assembled.
 */
export async function reconnectingClient(
  reader: Orchestrator,
  userId: string,
  turnId: string,
  disconnects: Disconnect[],
): Promise<TurnEvent[]> {
  const assembled: TurnEvent[] = []
  const lastSeq = () => assembled.at(-1)?.seq ?? 0
  const done = () => assembled.length > 0 && isTerminalEvent(assembled.at(-1)!)
  for (const plan of disconnects) {
    if (done()) break
    const controller = new AbortController()
    let taken = 0
    for await (const event of reader.attach(userId, turnId, lastSeq(), controller.signal)) {
      assembled.push(event)
      taken++
      if (taken >= plan.after) {
        if (plan.how === 'break') break
        controller.abort()
      }
    }
    await new Promise((resolve) => setTimeout(resolve, plan.pauseMs))
  }
  if (!done()) assembled.push(...(await collect(reader.attach(userId, turnId, lastSeq()))))
  return assembled
}
