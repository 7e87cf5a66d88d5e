import { randomUUID } from 'node:crypto'
import { streamTurn } from '@parley/client'
import type { TurnEvent } from '@parley/core'
import type { ScriptedModel } from '@parley/providers/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  collect,
  connect,
  expectContiguous,
  slowModel,
  startServer,
  type TestServer,
  TRANSPORTS,
  textOf,
} from './helpers.ts'

const WORDS = 40
const FULL_TEXT = Array.from({ length: WORDS }, (_, i) => `w${i + 1}`).join(' ')

describe.each(TRANSPORTS)('resuming a stream (%s)', (transport) => {
  let server: TestServer
  let model: ScriptedModel
  beforeAll(async () => {
    model = slowModel(WORDS, 15)
    server = await startServer({}, { provider: model })
  })
  afterAll(() => server.close())

  it('a stream left mid-reply resumes with lastEventId: same turn, no gap, no duplicate, one provider call', async () => {
    const calls = model.callCount
    using first = connect(server, transport)
    const conversation = await first.conversations.create.mutate({})
    const input = { requestId: randomUUID(), conversationId: conversation.id, input: 'tell me' }

    // The first connection goes away after a few deltas (the client unsubscribes and closes).
    const head = await collect(
      (handlers) => first.chat.stream.subscribe(input, handlers),
      (_event, all) => all.filter((e) => e.type === 'text.delta').length === 5,
    )
    first.close()
    const lastEventId = head.at(-1)?.id ?? ''

    using second = connect(server, transport)
    const tail: TurnEvent[] = []
    const result = await streamTurn(second, input, { lastEventId, onEvent: (event) => tail.push(event) })

    const all = [...head, ...tail]
    expectContiguous(all)
    expect(new Set(all.map((e) => e.turnId))).toEqual(new Set([result.turnId]))
    expect(result.terminal.type).toBe('turn.completed')
    expect(textOf(all)).toBe(FULL_TEXT)
    expect(model.callCount - calls).toBe(1)
  })

  it('refuses to resume a turn for a request that differs from the one that started it', async () => {
    using client = connect(server, transport)
    const conversation = await client.conversations.create.mutate({})
    const input = { requestId: randomUUID(), conversationId: conversation.id, input: 'once [[words:3]]' }
    const first = await streamTurn(client, input)
    const lastEventId = `${first.turnId}:1`
    const other = await client.conversations.create.mutate({})
    for (const changed of [
      { ...input, input: 'something else' },
      { ...input, conversationId: other.id },
    ]) {
      await expect(
        collect((handlers) => client.chat.stream.subscribe({ ...changed, lastEventId }, handlers)),
      ).rejects.toMatchObject({ reason: 'idempotency_key_reused' })
    }
    // The same request resumes; a request id that did not start the turn does not find it.
    const again = await collect((handlers) =>
      client.chat.stream.subscribe({ ...input, lastEventId }, handlers),
    )
    expect(again[0]?.seq).toBe(2)
    await expect(
      collect((handlers) =>
        client.chat.stream.subscribe({ ...input, requestId: randomUUID(), lastEventId }, handlers),
      ),
    ).rejects.toMatchObject({ reason: 'not_found' })
  })

  it('streamTurn rides out a dropped connection without a gap or a duplicate', async () => {
    const calls = model.callCount
    using client = connect(server, transport)
    const conversation = await client.conversations.create.mutate({})
    const events: TurnEvent[] = []
    let dropped = false
    const result = await streamTurn(
      client,
      { requestId: randomUUID(), conversationId: conversation.id, input: 'go' },
      {
        onEvent: (event) => {
          events.push(event)
          if (!dropped && events.filter((e) => e.type === 'text.delta').length === 8) {
            dropped = true
            server.dropConnections()
          }
        },
      },
    )
    expect(dropped).toBe(true)
    expectContiguous(events)
    expect(result.terminal.type).toBe('turn.completed')
    expect(textOf(events)).toBe(FULL_TEXT)
    expect(model.callCount - calls).toBe(1)
  })

  it('chat.watch resumes after lastEventId and ends with the terminal event', async () => {
    const calls = model.callCount
    using client = connect(server, transport)
    const conversation = await client.conversations.create.mutate({})
    const sent = await client.chat.send.mutate({
      requestId: randomUUID(),
      conversationId: conversation.id,
      input: 'x',
    })
    const all = await collect((h) => client.chat.watch.subscribe({ turnId: sent.turn.id }, h))
    const from = all[3]?.id ?? ''
    const rest = await collect((h) =>
      client.chat.watch.subscribe({ turnId: sent.turn.id, lastEventId: from }, h),
    )
    expect(rest.map((e) => e.id)).toEqual(all.slice(4).map((e) => e.id))
    expect(model.callCount - calls).toBe(1)
  })
})
