import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { type ParleyClient, streamTurn } from '@parley/client'
import { mapLimit } from './load.ts'
import { historyItems, MODEL, type ResponsesEndpoint, type StreamTiming, timingOf } from './responses-http.ts'

export const FIRST_MESSAGE = 'Hello! What is 0 + 0?'
export const QUESTION = 'And what comes next?'

/** A way to run one turn; `prepare` does the untimed setup for `workers` concurrent callers. */
export interface TurnPath {
  label: string
  prepare(workers: number): Promise<(worker: number) => Promise<void>>
}

export interface StreamPath {
  label: string
  prepare(workers: number): Promise<(worker: number) => Promise<StreamTiming>>
}

/**
 * A stateless caller's turn: it sends the whole context itself (one earlier exchange and the new
 * question), which is the same context Parley resolves from its store for its own paths.
 */
const statelessBody = () => ({ model: MODEL, input: historyItems(1, QUESTION), store: false })

export function statelessPath(label: string, endpoint: ResponsesEndpoint): TurnPath {
  return {
    label,
    prepare: async () => async () => {
      await endpoint.create(statelessBody())
    },
  }
}

export function statelessStreamPath(label: string, endpoint: ResponsesEndpoint): StreamPath {
  return { label, prepare: async () => () => endpoint.stream(statelessBody()) }
}

/** Parley `/v1`: each worker continues its own first response through `previous_response_id`. */
async function firstResponses(endpoint: ResponsesEndpoint, workers: number): Promise<string[]> {
  return mapLimit(Array.from({ length: workers }), 16, async () => {
    const first = await endpoint.create({ model: MODEL, input: FIRST_MESSAGE })
    return first.id
  })
}

export function v1Path(label: string, endpoint: ResponsesEndpoint): TurnPath {
  return {
    label,
    async prepare(workers) {
      const previous = await firstResponses(endpoint, workers)
      return async (worker) => {
        await endpoint.create({ model: MODEL, input: QUESTION, previous_response_id: previous[worker] })
      }
    },
  }
}

export function v1StreamPath(label: string, endpoint: ResponsesEndpoint): StreamPath {
  return {
    label,
    async prepare(workers) {
      const previous = await firstResponses(endpoint, workers)
      return (worker) =>
        endpoint.stream({ model: MODEL, input: QUESTION, previous_response_id: previous[worker] })
    },
  }
}

interface Thread {
  conversationId: string
  parentTurnId: string
}

/** A conversation with one completed turn, which later turns branch from (a constant context). */
export async function startThread(client: ParleyClient, input = FIRST_MESSAGE): Promise<Thread> {
  const conversation = await client.conversations.create.mutate({ title: 'bench' })
  const first = await streamTurn(client, { requestId: randomUUID(), conversationId: conversation.id, input })
  if (first.terminal.type !== 'turn.completed')
    throw new Error(`the first turn ended with ${first.terminal.type}`)
  return { conversationId: conversation.id, parentTurnId: first.turnId }
}

/** One Parley turn over the typed client, timed from the call to every text delta and the end. */
export async function timedTrpcTurn(
  client: ParleyClient,
  thread: Thread,
  question = QUESTION,
): Promise<StreamTiming> {
  const startedAt = performance.now()
  const deltaTimes: number[] = []
  const result = await streamTurn(
    client,
    {
      requestId: randomUUID(),
      conversationId: thread.conversationId,
      parentTurnId: thread.parentTurnId,
      input: question,
    },
    {
      onEvent: (event) => {
        if (event.type === 'text.delta') deltaTimes.push(performance.now())
      },
    },
  )
  if (result.terminal.type !== 'turn.completed')
    throw new Error(`the turn ended with ${result.terminal.type}`)
  return timingOf(startedAt, deltaTimes, performance.now())
}

/**
 * Parley over tRPC: the `chat.stream` subscription (through the client's `streamTurn`) read to
 * `turn.completed`. tRPC has no blocking send: `chat.send` returns at once and the reply arrives
 * as events, so a whole turn is this subscription. One client (one connection) per worker.
 */
export function trpcPath(label: string, clientFor: (worker: number) => ParleyClient): TurnPath {
  return {
    label,
    async prepare(workers) {
      const threads = await mapLimit(Array.from({ length: workers }), 16, (_, worker) =>
        startThread(clientFor(worker)),
      )
      return async (worker) => {
        await timedTrpcTurn(clientFor(worker), threads[worker] as Thread)
      }
    },
  }
}

export function trpcStreamPath(label: string, clientFor: (worker: number) => ParleyClient): StreamPath {
  return {
    label,
    async prepare(workers) {
      const threads = await mapLimit(Array.from({ length: workers }), 16, (_, worker) =>
        startThread(clientFor(worker)),
      )
      return (worker) => timedTrpcTurn(clientFor(worker), threads[worker] as Thread)
    },
  }
}
