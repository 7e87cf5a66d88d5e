import WebSocket from 'ws'
import { createParleyClient as createClient, type ParleyClient, type ParleyClientOptions } from './client.ts'

export * from './index.ts'

/**
 * Node entry point (picked through the `node` export condition): Node 20 has no global
 * WebSocket, so the `ws` package stands in unless the caller passes one.
 */
export function createParleyClient(options: ParleyClientOptions): ParleyClient {
  return createClient({
    ...options,
    WebSocket:
      options.WebSocket ??
      (globalThis.WebSocket as typeof globalThis.WebSocket | undefined) ??
      (WebSocket as unknown as typeof globalThis.WebSocket),
  })
}
