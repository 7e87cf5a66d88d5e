import { createParleyClient } from '@parley/client'
import type { ParleyApi } from './types.ts'

/**
 * The app's API over the typed client. Same origin in production (the server serves the app)
 * and in development (Vite proxies `/trpc`, WebSocket included).
 */
export function connect(options: { apiKey: string | null; url?: string }): ParleyApi {
  const client = createParleyClient({
    url: options.url ?? window.location.origin,
    transport: 'ws',
    ...(options.apiKey ? { apiKey: options.apiKey } : {}),
  })
  return {
    health: () => client.health.check.query(),
    conversations: {
      list: (input) => client.conversations.list.query(input),
      get: (id) => client.conversations.get.query({ id }),
      create: (input) => client.conversations.create.mutate(input),
      update: (input) => client.conversations.update.mutate(input),
      delete: (id) => client.conversations.delete.mutate({ id }),
      fork: (input) => client.conversations.fork.mutate(input),
      switchBranch: (input) => client.conversations.switchBranch.mutate(input),
    },
    messages: {
      list: (input) => client.messages.list.query(input),
    },
    chat: {
      send: (input) => client.chat.send.mutate(input),
      regenerate: (input) => client.chat.regenerate.mutate(input),
      edit: (input) => client.chat.edit.mutate(input),
      cancel: (turnId) => client.chat.cancel.mutate({ turnId }),
      turn: (turnId) => client.chat.turn.query({ turnId }),
      watch: (input, handlers) => {
        const subscription = client.chat.watch.subscribe(input, {
          onStarted: () => handlers.onConnection('open'),
          onConnectionStateChange: (state) => {
            if (state.state === 'connecting') handlers.onConnection('connecting')
            else if (state.state === 'pending') handlers.onConnection('open')
          },
          onData: ({ data }) => handlers.onEvent(data),
          onError: (error) => handlers.onError(error),
          onComplete: () => handlers.onComplete(),
        })
        return () => subscription.unsubscribe()
      },
    },
    usage: {
      totals: (input) => client.usage.totals.query(input),
    },
    close: () => client.close(),
  }
}
