/**
 * Loaded only by the soak (`node --expose-gc --import tsx --import ./src/soak-probe.ts src/main.ts`
 * with an IPC channel): answers the soak's questions about the server's memory. Without an IPC
 * channel (every other way of starting the server) it does nothing.
 *
 *   { id, kind: 'memory' }            → { id, memory } after a full collection
 *   { id, kind: 'snapshot', path }    → { id, path } once a heap snapshot is written there
 */
import { writeHeapSnapshot } from 'node:v8'

export interface ProbeMemory {
  /** Live JS objects after a forced full collection: what a leak grows. */
  heapUsed: number
  heapTotal: number
  /** Memory held outside the JS heap (array buffers, PGlite's WebAssembly memory). */
  external: number
  arrayBuffers: number
  rss: number
}

export type ProbeRequest = { id: number; kind: 'memory' } | { id: number; kind: 'snapshot'; path: string }
export type ProbeReply = { id: number; memory: ProbeMemory } | { id: number; path: string }

const send = process.send?.bind(process)
if (send) {
  process.on('message', (request: ProbeRequest) => {
    if (request.kind === 'snapshot') {
      send({ id: request.id, path: writeHeapSnapshot(request.path) } satisfies ProbeReply)
      return
    }
    // Two passes: the first can only queue finalizers (WeakRef targets, FinalizationRegistry).
    globalThis.gc?.()
    globalThis.gc?.()
    const { heapUsed, heapTotal, external, arrayBuffers, rss } = process.memoryUsage()
    send({
      id: request.id,
      memory: { heapUsed, heapTotal, external, arrayBuffers, rss },
    } satisfies ProbeReply)
  })
  // After the listener (adding it refs the channel): the channel must not keep the server alive.
  process.channel?.unref()
}
