import { randomUUID } from 'node:crypto'
import type { TurnEvent } from '@parley/core'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { streamSegment } from '../../src/stream-segment.ts'
import { connect, slowModel, startServer, type TestServer, textOf } from '../helpers.ts'
import { eventually, outputText } from './support.ts'

const WORDS = 16
let server: TestServer

beforeAll(async () => {
  server = await startServer({}, { provider: slowModel(WORDS, 3) })
})
afterAll(async () => {
  await server.close()
})

/** Sorted, distinct event counts after which the client drops its connection. */
const disconnectPoints = fc
  .uniqueArray(fc.integer({ min: 1, max: WORDS + 4 }), { maxLength: 4 })
  .map((points) => [...points].sort((a, b) => a - b))

describe.each(['ws', 'sse'] as const)('tRPC over %s: random disconnects', (transport) => {
  it('the text assembled across reconnects equals the stored text', async () => {
    const conversationId = (await connect(server, 'sse').conversations.create.mutate({ title: 'dc' })).id
    await fc.assert(
      fc.asyncProperty(disconnectPoints, async (points) => {
        const requestId = randomUUID()
        const input = { requestId, conversationId, input: 'talk to me' }
        const events: TurnEvent[] = []
        let segment = 0
        for (;;) {
          // A new client per segment: every reconnect is a fresh connection.
          using client = connect(server, transport)
          const ended = await streamSegment(
            client,
            input,
            events,
            points[segment] ?? Number.POSITIVE_INFINITY,
          )
          segment += 1
          if (ended) break
        }
        // No gap, no duplicate, one turn.
        expect(events.map((event) => event.seq)).toEqual(events.map((_, i) => i + 1))
        const turnId = events[0]?.turnId ?? ''
        const stored = await connect(server, 'sse').chat.turn.query({ turnId })
        expect(stored.turn.status).toBe('completed')
        expect(textOf(events)).toBe(outputText(stored.output))
      }),
      { numRuns: 25 },
    )
  })
})

interface WireEvent {
  type: string
  sequence_number: number
  delta?: string
  response?: { id: string }
}

/** Reads a `/v1` SSE stream, stopping (aborting the connection) after `stopAfter` events. */
async function readV1(
  response: Response,
  controller: AbortController,
  stopAfter: number,
): Promise<WireEvent[]> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  const events: WireEvent[] = []
  let buffer = ''
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return events
      buffer += decoder.decode(value, { stream: true })
      let end = buffer.indexOf('\n\n')
      while (end >= 0) {
        const frame = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        end = buffer.indexOf('\n\n')
        const data = frame
          .split('\n')
          .find((line) => line.startsWith('data: '))
          ?.slice(6)
        if (!data || data === '[DONE]') continue
        events.push(JSON.parse(data) as WireEvent)
        if (events.length >= stopAfter) {
          controller.abort()
          return events
        }
      }
    }
  } catch (error) {
    if (controller.signal.aborted) return events
    throw error
  }
}

describe('/v1 streams: random disconnects', () => {
  it('the text assembled across resumes equals the stored response text', async () => {
    await fc.assert(
      fc.asyncProperty(disconnectPoints, async (points) => {
        const events: WireEvent[] = []
        let responseId = ''
        let segment = 0
        for (;;) {
          const controller = new AbortController()
          const stopAt = (points[segment] ?? Number.POSITIVE_INFINITY) - events.length
          const last = events.at(-1)?.sequence_number ?? -1
          const response =
            segment === 0
              ? await fetch(`${server.url}/v1/responses`, {
                  method: 'POST',
                  headers: { 'content-type': 'application/json' },
                  body: JSON.stringify({ model: 'scripted', input: 'talk to me', stream: true }),
                  signal: controller.signal,
                })
              : await fetch(`${server.url}/v1/responses/${responseId}?stream=true&starting_after=${last}`, {
                  signal: controller.signal,
                })
          expect(response.status).toBe(200)
          const got = await readV1(response, controller, Math.max(1, stopAt))
          events.push(...got)
          responseId ||= events[0]?.response?.id ?? ''
          segment += 1
          const finished = events.some((event) => event.type === 'response.completed')
          if (finished) break
          if (segment > 10) throw new Error('the stream never finished')
        }
        expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, i) => i))
        const text = events
          .filter((event) => event.type === 'response.output_text.delta')
          .map((event) => event.delta)
          .join('')
        const stored = await eventually(
          async () =>
            (await fetch(`${server.url}/v1/responses/${responseId}`)).json() as Promise<{
              status: string
              output: unknown[]
            }>,
          (value) => value.status === 'completed',
        )
        expect(text).toBe(outputText(stored.output))
        expect(text.length).toBeGreaterThan(0)
      }),
      { numRuns: 25 },
    )
  })
})
