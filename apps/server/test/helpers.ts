import { createParleyClient, type ParleyClient, type Transport } from '@parley/client'
import type { Provider, TurnEvent } from '@parley/core'
import { ScriptedModel, type ScriptedStep, textStep } from '@parley/providers/testing'
import { createParleyServer, type ParleyServer, type ServerDeps, type ServerOptions } from '../src/index.ts'

export const TRANSPORTS: Transport[] = ['ws', 'sse']

/** A model whose every reply is `words` words, one chunk each, `delayMs` apart. */
export function slowModel(words: number, delayMs: number, extra: Partial<ScriptedStep> = {}): ScriptedModel {
  const text = Array.from({ length: words }, (_, i) => `w${i + 1}`).join(' ')
  return new ScriptedModel({ steps: () => textStep(text, { delayMs, ...extra }) })
}

/** A quick model: every reply is "Hello from Parley." */
export function quickModel(): ScriptedModel {
  return new ScriptedModel({ steps: () => textStep('Hello from Parley.') })
}

export interface TestServer extends ParleyServer, AsyncDisposable {}

export async function startServer(
  options: ServerOptions = {},
  deps: ServerDeps & { provider?: Provider } = {},
): Promise<TestServer> {
  const server = await createParleyServer({ webRoot: null, ...options }, { provider: quickModel(), ...deps })
  return Object.assign(server, { [Symbol.asyncDispose]: () => server.close() })
}

export function connect(
  server: { url: string },
  transport: Transport,
  apiKey?: string,
): ParleyClient & Disposable {
  const client = createParleyClient({ url: server.url, transport, ...(apiKey ? { apiKey } : {}) })
  return Object.assign(client, { [Symbol.dispose]: () => client.close() })
}

/** Collects a subscription's events until the terminal one. */
export function collect(
  subscribe: (handlers: {
    onData: (envelope: { id: string; data: TurnEvent }) => void
    onError: (error: unknown) => void
  }) => { unsubscribe(): void },
  until: (event: TurnEvent, all: TurnEvent[]) => boolean = (event) =>
    event.type.startsWith('turn.') && event.type !== 'turn.started',
): Promise<TurnEvent[]> {
  return new Promise((resolve, reject) => {
    const events: TurnEvent[] = []
    const subscription = subscribe({
      onData: ({ data }) => {
        events.push(data)
        if (until(data, events)) {
          subscription.unsubscribe()
          resolve(events)
        }
      },
      onError: (error) => {
        subscription.unsubscribe()
        reject(error)
      },
    })
  })
}

/** Seqs 1..n exactly once each, in order. */
export function expectContiguous(events: TurnEvent[]): number[] {
  const seqs = events.map((event) => event.seq)
  const expected = Array.from({ length: seqs.length }, (_, i) => i + 1)
  if (JSON.stringify(seqs) !== JSON.stringify(expected)) {
    throw new Error(`events are not contiguous: ${seqs.join(',')}`)
  }
  return seqs
}

export function textOf(events: TurnEvent[]): string {
  return events.map((event) => (event.type === 'text.delta' ? event.delta : '')).join('')
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
