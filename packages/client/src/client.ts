import type { AppRouter } from '@parley/server/router'
import {
  createTRPCClient,
  createWSClient,
  httpBatchLink,
  httpLink,
  httpSubscriptionLink,
  isNonJsonSerializable,
  splitLink,
  type TRPCClient,
  type TRPCLink,
  wsLink,
} from '@trpc/client'
import { observable } from '@trpc/server/observable'
import { EventSource } from 'eventsource'
import { toParleyClientError } from './errors.ts'
import { reusingSseFetch } from './sse-fetch.ts'

export type { AppRouter }

export type Transport = 'ws' | 'sse'

export interface ParleyClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:3000` (tRPC is served under `/trpc`). */
  url: string
  /** Sent as `Authorization: Bearer` on HTTP/SSE and as `connectionParams.apiKey` on WebSocket. */
  apiKey?: string
  /** How subscriptions travel. Queries use batched HTTP, mutations plain HTTP. Default `ws`. */
  transport?: Transport
  /** A WebSocket class for runtimes without one (the Node entry point passes `ws`). */
  WebSocket?: typeof globalThis.WebSocket
  /** Called when the WebSocket connection opens or closes (e.g. for a status indicator). */
  onConnectionChange?: (state: 'open' | 'closed') => void
}

/** The typed client: `client.conversations.list.query()`, `client.chat.stream.subscribe(…)`, … */
export type ParleyClient = TRPCClient<AppRouter> &
  Disposable & {
    /** Closes the WebSocket (if one was opened). Calls made afterwards over it fail. */
    close(): void
  }

/** A first link that turns every error into a `ParleyClientError`. */
const typedErrors: TRPCLink<AppRouter> = () => {
  return ({ op, next }) =>
    observable((observer) => {
      const subscription = next(op).subscribe({
        next: (value) => observer.next(value),
        error: (error) => observer.error(toParleyClientError(error)),
        complete: () => observer.complete(),
      })
      return () => subscription.unsubscribe()
    })
}

/** Reconnect quickly once, then back off to at most 5 s. */
function retryDelayMs(attempt: number): number {
  return attempt === 0 ? 100 : Math.min(250 * 2 ** attempt, 5_000)
}

export function createParleyClient(options: ParleyClientOptions): ParleyClient {
  const base = options.url.replace(/\/+$/, '')
  const trpcUrl = `${base}/trpc`
  const authHeaders = (): Record<string, string> =>
    options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}

  let close = () => {}
  let subscriptions: TRPCLink<AppRouter>
  if ((options.transport ?? 'ws') === 'ws') {
    const wsClient = createWSClient({
      url: trpcUrl.replace(/^http/, 'ws'),
      WebSocket: options.WebSocket,
      connectionParams: options.apiKey ? { apiKey: options.apiKey } : null,
      retryDelayMs,
      // Opened by the first subscription, closed when idle: a CLI that only queries never connects.
      // Both timers start at the last message: the idle close comes well before the next ping, or
      // that ping would be sent on a closing socket (browsers log it as an error).
      lazy: { enabled: true, closeMs: 8_000 },
      keepAlive: { enabled: true, intervalMs: 10_000, pongTimeoutMs: 5_000 },
      onOpen: () => options.onConnectionChange?.('open'),
      onClose: () => options.onConnectionChange?.('closed'),
    })
    close = () => wsClient.close()
    subscriptions = wsLink<AppRouter>({ client: wsClient })
  } else {
    subscriptions = httpSubscriptionLink<AppRouter, typeof EventSource>({
      url: trpcUrl,
      // A native EventSource cannot send headers; this one sends the key like every other call.
      EventSource,
      eventSourceOptions: () => ({
        fetch: reusingSseFetch((input, init) =>
          fetch(input, { ...init, headers: { ...init?.headers, ...authHeaders() } }),
        ),
      }),
    })
  }

  const client = createTRPCClient<AppRouter>({
    links: [
      typedErrors,
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: subscriptions,
        false: splitLink({
          // Files (imports) go unbatched as a raw body. So do mutations: the batch link waits a
          // timer tick (a millisecond or more in Node) to gather calls, on every send of a turn.
          condition: (op) => op.type === 'mutation' || isNonJsonSerializable(op.input),
          true: httpLink({ url: trpcUrl, headers: authHeaders }),
          false: httpBatchLink({ url: trpcUrl, headers: authHeaders, maxURLLength: 4_000 }),
        }),
      }),
    ],
  })

  return new Proxy(client, {
    get(target, property, receiver) {
      // `using client = createParleyClient(…)` closes it at the end of the scope.
      if (property === 'close' || property === Symbol.dispose) return close
      return Reflect.get(target, property, receiver)
    },
  }) as ParleyClient
}
