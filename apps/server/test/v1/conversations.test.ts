import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { ADAPTERS, startV1, type V1Setup } from './harness.ts'

// Servers start on a shared two-core machine: give hooks and tests room.
vi.setConfig({ testTimeout: 30_000, hookTimeout: 60_000 })

function texts(items: OpenAI.Conversations.ConversationItem[]): string[] {
  return items.map((item) =>
    item.type === 'message'
      ? item.content
          .map((part) => ('text' in part && typeof part.text === 'string' ? part.text : ''))
          .join('')
      : item.type,
  )
}

describe.each(ADAPTERS)('/v1/conversations through the %s adapter', (adapter) => {
  let v1: V1Setup

  beforeAll(async () => {
    v1 = await startV1(adapter)
  })
  afterAll(() => v1[Symbol.asyncDispose]())
  beforeEach(() => v1.upstream.reset())

  it('creates with items, answers in the conversation, lists and appends items', async () => {
    const conversation = await v1.client.conversations.create({
      items: [{ type: 'message', role: 'user', content: 'Remember: the code is 42.' }],
      metadata: { topic: 'codes' },
    })
    expect(conversation).toMatchObject({ object: 'conversation', metadata: { topic: 'codes' } })
    expect(conversation.id).toMatch(/^conv_/)
    expect(await v1.client.conversations.retrieve(conversation.id)).toEqual(conversation)
    const updated = await v1.client.conversations.update(conversation.id, { metadata: { topic: 'secrets' } })
    expect(updated.metadata).toEqual({ topic: 'secrets' })

    v1.upstream.enqueue({ text: 'The code is 42.' })
    const answer = await v1.client.responses.create({
      model: 'gpt-fake',
      conversation: conversation.id,
      input: 'What is the code?',
    })
    expect(answer.conversation).toEqual({ id: conversation.id })
    expect(JSON.stringify(v1.upstream.lastCall()?.body)).toContain('Remember: the code is 42.')

    const listed = await v1.client.conversations.items.list(conversation.id, { order: 'asc' })
    expect(texts(listed.data)).toEqual(['Remember: the code is 42.', 'What is the code?', 'The code is 42.'])
    const newestFirst = await v1.client.conversations.items.list(conversation.id)
    expect(texts(newestFirst.data)[0]).toBe('The code is 42.')
    const paged: OpenAI.Conversations.ConversationItem[] = []
    for await (const item of v1.client.conversations.items.list(conversation.id, {
      order: 'asc',
      limit: 1,
    })) {
      paged.push(item)
    }
    expect(paged.map((item) => item.id)).toEqual(listed.data.map((item) => item.id))

    const added = await v1.client.conversations.items.create(conversation.id, {
      items: [{ type: 'message', role: 'user', content: 'Also: the colour is blue.' }],
    })
    expect(added.object).toBe('list')
    expect(texts(added.data)).toEqual(['Also: the colour is blue.'])
    const addedId = added.data[0]?.id ?? ''
    expect(
      await v1.client.conversations.items.retrieve(addedId, { conversation_id: conversation.id }),
    ).toEqual(added.data[0])

    v1.upstream.enqueue({ text: '42 and blue.' })
    await v1.client.responses.create({
      model: 'gpt-fake',
      conversation: { id: conversation.id },
      input: 'Both?',
    })
    const context = JSON.stringify(v1.upstream.lastCall()?.body)
    if (adapter === 'openai-chat') expect(context).toContain('The code is 42.')
    expect(context).toContain('Also: the colour is blue.')
    expect(v1.upstream.callCount()).toBe(2)
  })

  it('refuses item deletion with a typed error and deletes conversations (then 404)', async () => {
    const conversation = await v1.client.conversations.create({
      items: [{ type: 'message', role: 'user', content: 'Keep me' }],
    })
    const [item] = (await v1.client.conversations.items.list(conversation.id)).data
    await expect(
      v1.client.conversations.items.delete(item?.id ?? '', { conversation_id: conversation.id }),
    ).rejects.toMatchObject({ status: 400, code: 'unsupported_operation' })

    const deleted = await v1.client.conversations.delete(conversation.id)
    expect(deleted).toEqual({ id: conversation.id, object: 'conversation.deleted', deleted: true })
    await expect(v1.client.conversations.retrieve(conversation.id)).rejects.toBeInstanceOf(
      OpenAI.NotFoundError,
    )
    await expect(
      v1.client.responses.create({ model: 'gpt-fake', conversation: conversation.id, input: 'hi' }),
    ).rejects.toMatchObject({ status: 404, param: 'conversation' })
  })

  it('refuses unknown parameters and a missing body, and answers an unknown id with 404 first', async () => {
    const send = async (path: string, body?: string) => {
      const response = await v1.fetchV1(path, { method: 'POST', ...(body === undefined ? {} : { body }) })
      return {
        status: response.status,
        error: ((await response.json()) as { error: Record<string, unknown> }).error,
      }
    }
    expect(await send('/conversations', '{"metdata":{"a":"b"}}')).toMatchObject({
      status: 400,
      error: { type: 'invalid_request_error', message: expect.stringContaining('metdata') },
    })
    const conversation = await v1.client.conversations.create({})
    expect(await send(`/conversations/${conversation.id}`)).toMatchObject({
      status: 400,
      error: { code: 'invalid_json', message: 'The request body must be a JSON object' },
    })
    expect(await send(`/conversations/${conversation.id}/items`, '{"items":[],"extra":1}')).toMatchObject({
      status: 400,
    })
    expect(await send('/conversations/conv_000000000000000000000000', '{}')).toMatchObject({
      status: 404,
      error: { code: 'not_found' },
    })
    expect(await send('/conversations/conv_000000000000000000000000/items', '{}')).toMatchObject({
      status: 404,
    })
  })

  it('creates a conversation whose first message has an emoji at the title cut', async () => {
    const text = `${'a'.repeat(78)}\u{1F600} and more words after the emoji`
    const conversation = await v1.client.conversations.create({
      items: [{ type: 'message', role: 'user', content: text }],
    })
    const [item] = (await v1.client.conversations.items.list(conversation.id)).data
    expect(
      item?.type === 'message' && item.content[0]?.type === 'input_text' ? item.content[0].text : null,
    ).toBe(text)
  })

  it("hides other users' conversations behind the same 404 as unknown ids", async () => {
    const theirs = await v1.other.conversations.create({ metadata: { owner: 'bob' } })
    const unknown = await v1.fetchV1('/conversations/conv_000000000000000000000000')
    const foreign = await v1.fetchV1(`/conversations/${theirs.id}`)
    expect(foreign.status).toBe(404)
    expect(unknown.status).toBe(404)
    const foreignError = (await foreign.json()) as { error: { message: string } }
    const unknownError = (await unknown.json()) as { error: { message: string } }
    expect(foreignError.error.message.replace(theirs.id, 'ID')).toBe(
      unknownError.error.message.replace('conv_000000000000000000000000', 'ID'),
    )
    await expect(v1.client.conversations.items.list(theirs.id)).rejects.toMatchObject({ status: 404 })
    await expect(v1.client.conversations.delete(theirs.id)).rejects.toMatchObject({ status: 404 })
    expect((await v1.other.conversations.retrieve(theirs.id)).metadata).toEqual({ owner: 'bob' })
  })
})
