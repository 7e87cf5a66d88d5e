import { randomUUID } from 'node:crypto'
import { ServerResponse } from 'node:http'
import { streamTurn } from '@parley/client'
import type { TurnEvent } from '@parley/core'
import { ScriptedModel, textStep } from '@parley/providers/testing'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { connect, startServer, type TestServer } from './helpers.ts'

/**
 * Node's `res.write` corks the socket until the end of the tick. Events produced in one burst
 * (a model's chunk often carries several deltas) would then all leave together, the first one
 * waiting for the last. Each SSE write must find the socket uncorked: the write before it was
 * sent at once.
 */
describe('SSE events leave as they are written', () => {
  let server: TestServer
  const WORDS = 30
  // Every word in one burst: no delay, so the whole reply is produced within one tick.
  const burst = Array.from({ length: WORDS }, (_, i) => `w${i}`).join(' ')

  beforeAll(async () => {
    server = await startServer({}, { provider: new ScriptedModel({ steps: () => textStep(burst) }) })
  })
  afterAll(() => server.close())
  afterEach(() => vi.restoreAllMocks())

  /** For every write to an SSE response: whether an earlier write still held the socket corked. */
  function watchSseWrites(): boolean[] {
    const heldBack: boolean[] = []
    const write = ServerResponse.prototype.write
    vi.spyOn(ServerResponse.prototype, 'write').mockImplementation(function (
      this: ServerResponse,
      ...args: Parameters<ServerResponse['write']>
    ) {
      if (String(this.getHeader('content-type')).startsWith('text/event-stream')) {
        heldBack.push((this.socket?.writableCorked ?? 0) > 0)
      }
      return write.apply(this, args)
    } as ServerResponse['write'])
    return heldBack
  }

  it('tRPC over SSE', async () => {
    const heldBack = watchSseWrites()
    using client = connect(server, 'sse')
    const conversation = await client.conversations.create.mutate({})
    const events: TurnEvent[] = []
    const result = await streamTurn(
      client,
      { requestId: randomUUID(), conversationId: conversation.id, input: 'go' },
      { onEvent: (event) => events.push(event) },
    )
    expect(result.terminal.type).toBe('turn.completed')
    const deltas = events.flatMap((event) => (event.type === 'text.delta' ? [event.delta] : []))
    expect(deltas.join('')).toBe(burst)
    expect(heldBack.filter(Boolean)).toEqual([])
    // One write per SSE message (the events, plus tRPC's `connected` first and `return` last):
    // each write is a packet of its own now, so a message must not be split across several.
    expect(heldBack).toHaveLength(events.length + 2)
  })

  it('/v1 with stream: true', async () => {
    const heldBack = watchSseWrites()
    const response = await fetch(`${server.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'go', stream: true }),
    })
    const text = await response.text()
    expect(response.status).toBe(200)
    expect(text.match(/^event: response\.output_text\.delta$/gm)).toHaveLength(WORDS)
    expect(heldBack.length).toBeGreaterThan(WORDS)
    expect(heldBack.filter(Boolean)).toEqual([])
  })
})
