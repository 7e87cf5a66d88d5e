import { randomUUID } from 'node:crypto'
import { isParleyClientError, type ParleyClientError } from '@parley/client'
import { messageText, type TurnEvent } from '@parley/core'
import { ScriptedModel, textStep } from '@parley/providers/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  collect,
  connect,
  expectContiguous,
  startServer,
  type TestServer,
  TRANSPORTS,
  textOf,
} from './helpers.ts'

async function failure(promise: Promise<unknown>): Promise<ParleyClientError> {
  try {
    await promise
  } catch (error) {
    if (isParleyClientError(error)) return error
    throw error
  }
  throw new Error('expected the call to fail')
}

describe.each(TRANSPORTS)('every procedure over real sockets (%s)', (transport) => {
  let server: TestServer
  let model: ScriptedModel
  let client: ReturnType<typeof connect>

  beforeAll(async () => {
    // "slow" in the input makes a reply long enough to cancel mid-way.
    model = new ScriptedModel({
      steps: (request) => {
        const last = request.input.at(-1)
        const said = last ? messageText(last) : ''
        if (said.includes('slow'))
          return textStep(Array.from({ length: 200 }, () => 'tick').join(' '), { delayMs: 20 })
        return textStep(`You said: ${said}`)
      },
    })
    server = await startServer({}, { provider: model })
    client = connect(server, transport)
  })
  afterAll(async () => {
    client.close()
    await server.close()
  })

  it('health.check', async () => {
    expect(await client.health.check.query()).toEqual({
      status: 'ok',
      auth: 'local',
      provider: 'scripted',
      model: 'parley-demo',
    })
  })

  it('conversations: create, get, list (newest first, search, pages), update, delete', async () => {
    const a = await client.conversations.create.mutate({ title: `alpha ${transport}`, metadata: { k: 'v' } })
    const b = await client.conversations.create.mutate({ title: `beta ${transport}` })
    expect(a).toMatchObject({ title: `alpha ${transport}`, metadata: { k: 'v' }, headTurnId: null })
    expect(await client.conversations.get.query({ id: a.id })).toEqual(a)

    const page = await client.conversations.list.query({ limit: 1, search: transport })
    expect(page.data.map((c) => c.id)).toEqual([b.id])
    const next = await client.conversations.list.query({
      limit: 1,
      search: transport,
      cursor: page.nextCursor ?? '',
    })
    expect(next.data.map((c) => c.id)).toEqual([a.id])

    const updated = await client.conversations.update.mutate({ id: a.id, title: 'renamed' })
    expect(updated.title).toBe('renamed')
    expect(await client.conversations.delete.mutate({ id: b.id })).toEqual({ id: b.id, deleted: true })
    expect((await failure(client.conversations.get.query({ id: b.id }))).reason).toBe('not_found')
    expect((await failure(client.conversations.delete.mutate({ id: b.id }))).reason).toBe('not_found')
  })

  it('chat.send returns at once; chat.watch follows; chat.turn and messages.list show the stored turn', async () => {
    const conversation = await client.conversations.create.mutate({})
    const requestId = randomUUID()
    const sent = await client.chat.send.mutate({ requestId, conversationId: conversation.id, input: 'hello' })
    expect(sent.replayed).toBe(false)
    expect(['pending', 'streaming', 'completed']).toContain(sent.turn.status)

    const events = await collect((handlers) =>
      client.chat.watch.subscribe({ turnId: sent.turn.id }, handlers),
    )
    expectContiguous(events)
    expect(events[0]?.type).toBe('turn.started')
    expect(events.at(-1)?.type).toBe('turn.completed')
    expect(textOf(events)).toBe('You said: hello')

    const again = await client.chat.send.mutate({
      requestId,
      conversationId: conversation.id,
      input: 'hello',
    })
    expect(again).toMatchObject({ replayed: true, turn: { id: sent.turn.id, status: 'completed' } })

    const stored = await client.chat.turn.query({ turnId: sent.turn.id })
    expect(stored.turn.status).toBe('completed')
    expect(stored.output.map(messageText).join('')).toBe('You said: hello')

    const messages = await client.messages.list.query({ conversationId: conversation.id })
    expect(messages.data.map((t) => t.turn.id)).toEqual([sent.turn.id])
    expect(messages.data[0]?.input.map(messageText)).toEqual(['hello'])
  })

  it('chat.stream starts the turn and streams it; a retried requestId attaches without a second call', async () => {
    const conversation = await client.conversations.create.mutate({})
    const input = { requestId: randomUUID(), conversationId: conversation.id, input: 'streamed' }
    const before = model.callCount
    const events = await collect((handlers) => client.chat.stream.subscribe(input, handlers))
    expectContiguous(events)
    expect(textOf(events)).toBe('You said: streamed')
    const replay = await collect((handlers) => client.chat.stream.subscribe(input, handlers))
    expect(replay.map((e) => e.id)).toEqual(events.map((e) => e.id))
    expect(model.callCount - before).toBe(1)
  })

  it('chat.regenerate and chat.edit make sibling branches; switchBranch selects one; fork copies', async () => {
    const conversation = await client.conversations.create.mutate({})
    const first = await streamed(conversation.id, 'one')
    const second = await streamed(conversation.id, 'two')

    const regenerated = await client.chat.regenerate.mutate({ requestId: randomUUID(), turnId: second })
    await collect((h) => client.chat.watch.subscribe({ turnId: regenerated.turn.id }, h))
    expect(regenerated.turn.parentTurnId).toBe(first)

    const edited = await client.chat.edit.mutate({ requestId: randomUUID(), turnId: second, input: 'deux' })
    await collect((h) => client.chat.watch.subscribe({ turnId: edited.turn.id }, h))
    let branch = await client.messages.list.query({ conversationId: conversation.id })
    expect(branch.data.map((t) => t.turn.id)).toEqual([first, edited.turn.id])
    expect(branch.data[1]?.siblingIds).toEqual([second, regenerated.turn.id, edited.turn.id])

    const switched = await client.conversations.switchBranch.mutate({ id: conversation.id, turnId: second })
    expect(switched.headTurnId).toBe(second)
    branch = await client.messages.list.query({ conversationId: conversation.id })
    expect(branch.data[1]?.output.map(messageText)).toEqual(['You said: two'])

    // Selecting the first turn selects the newest turn below it.
    const top = await client.conversations.switchBranch.mutate({ id: conversation.id, turnId: first })
    expect(top.headTurnId).toBe(edited.turn.id)

    const itemId = branch.data[0]?.output[0]?.id ?? ''
    const fork = await client.conversations.fork.mutate({ id: conversation.id, atItemId: itemId })
    expect(fork.id).not.toBe(conversation.id)
    const forked = await client.messages.list.query({ conversationId: fork.id })
    expect(forked.data.flatMap((t) => [...t.input, ...t.output]).map(messageText)).toEqual([
      'one',
      'You said: one',
    ])
    // An item that is not in the conversation is named as such, not the conversation.
    await expect(
      client.conversations.fork.mutate({ id: conversation.id, atItemId: 'item_aaaaaaaaaaaa' }),
    ).rejects.toMatchObject({
      reason: 'not_found',
      message: `No item 'item_aaaaaaaaaaaa' found in conversation '${conversation.id}'`,
    })
  })

  it('chat.cancel stops a running turn and keeps what was produced', async () => {
    const conversation = await client.conversations.create.mutate({})
    const sent = await client.chat.send.mutate({
      requestId: randomUUID(),
      conversationId: conversation.id,
      input: 'slow',
    })
    const events = await collect(
      (h) => client.chat.watch.subscribe({ turnId: sent.turn.id }, h),
      (event, all) => {
        if (all.filter((e) => e.type === 'text.delta').length === 3)
          void client.chat.cancel.mutate({ turnId: sent.turn.id })
        return event.type === 'turn.cancelled' || event.type === 'turn.completed'
      },
    )
    expect(events.at(-1)?.type).toBe('turn.cancelled')
    const stored = await client.chat.turn.query({ turnId: sent.turn.id })
    expect(stored.turn.status).toBe('cancelled')
    expect(stored.output.map(messageText).join('')).toMatch(/^tick tick tick/)
  })

  it('exports.conversation writes a file that imports.run reads back (binary body)', async () => {
    const conversation = await client.conversations.create.mutate({ title: `export ${transport}` })
    await streamed(conversation.id, 'keep me')
    const exported = await client.exports.conversation.query({ id: conversation.id, format: 'json' })
    expect(exported.content).toContain('keep me')
    const markdown = await client.exports.conversation.query({ id: conversation.id, format: 'markdown' })
    expect(markdown.content).toContain('keep me')
    const summary = await client.imports.run.mutate(new TextEncoder().encode(exported.content))
    expect(summary.imported + summary.skipped).toBe(1)
  })

  it('tools.list names the built-in tools with JSON Schema parameters', async () => {
    const tools = await client.tools.list.query()
    const names = tools.map((tool) => tool.name)
    expect(names).toEqual(expect.arrayContaining(['clock', 'calculator']))
    for (const tool of tools) expect(tool.parameters).toMatchObject({ type: 'object' })
  })

  it('usage.totals sums the turns by day and model', async () => {
    const totals = await client.usage.totals.query({})
    expect(totals.length).toBeGreaterThan(0)
    expect(totals[0]).toMatchObject({ model: 'parley-demo' })
    expect(totals.reduce((sum, row) => sum + row.turns, 0)).toBeGreaterThanOrEqual(3)
    const empty = await client.usage.totals.query({ from: '2001-01-01', to: '2001-02-01' })
    expect(empty).toEqual([])
    expect((await failure(client.usage.totals.query({ from: '2002-01-01', to: '2001-01-01' }))).reason).toBe(
      'validation',
    )
  })

  it('typed errors: validation issues name the field, unknown ids are not_found, busy is conflict', async () => {
    const invalid = await failure(client.conversations.create.mutate({ title: 'a\u0000b' }))
    expect(invalid).toMatchObject({ reason: 'validation', status: 400 })
    expect(invalid.issues).toEqual([expect.objectContaining({ path: 'title' })])
    // Inside a union (text or items), the branch that was meant names the field.
    const item = await failure(
      client.chat.send.mutate({
        requestId: randomUUID(),
        conversationId: 'conv_unknown000000',
        input: [{ type: 'message', role: 'user', content: [{ type: 'input_text' }] }],
      } as never),
    )
    expect(item).toMatchObject({ reason: 'validation', status: 400 })
    expect(item.issues).toEqual([expect.objectContaining({ path: 'input.0.content.0.text' })])

    const unknown = await failure(client.conversations.get.query({ id: 'conv_unknown000000' }))
    expect(unknown).toMatchObject({ reason: 'not_found', status: 404 })
    expect(unknown.message).not.toMatch(/select|sql|stack|at /i)

    const conversation = await client.conversations.create.mutate({})
    const slow = await client.chat.send.mutate({
      requestId: randomUUID(),
      conversationId: conversation.id,
      input: 'slow',
    })
    const busy = await failure(
      client.chat.send.mutate({ requestId: randomUUID(), conversationId: conversation.id, input: 'x' }),
    )
    expect(busy).toMatchObject({ reason: 'conversation_busy', status: 409 })
    const reused = await failure(
      client.chat.send.mutate({
        requestId: slow.turn.requestId,
        conversationId: conversation.id,
        input: 'other',
      }),
    )
    expect(reused).toMatchObject({ reason: 'idempotency_key_reused', status: 422 })
    await client.chat.cancel.mutate({ turnId: slow.turn.id })

    const streamError = await new Promise<unknown>((resolve) => {
      const sub = client.chat.watch.subscribe(
        { turnId: 'resp_unknown000000' },
        {
          onData: () => undefined,
          onError: (error) => {
            sub.unsubscribe()
            resolve(error)
          },
        },
      )
    })
    expect(streamError).toMatchObject({ reason: 'not_found' })
  })

  async function streamed(conversationId: string, text: string): Promise<string> {
    const events: TurnEvent[] = await collect((h) =>
      client.chat.stream.subscribe({ requestId: randomUUID(), conversationId, input: text }, h),
    )
    return events[0]?.turnId ?? ''
  }
})
