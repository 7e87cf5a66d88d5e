import { LIMITS } from '@parley/core'
import OpenAI from 'openai'
import type { ResponseStreamEvent } from 'openai/resources/responses/responses'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { ADAPTERS, readFrames, startV1, type V1Setup } from './harness.ts'

// Servers start on a shared two-core machine: give hooks and tests room.
vi.setConfig({ testTimeout: 30_000, hookTimeout: 60_000 })

/** Every field the Open Responses schema requires on a response object. */
const RESPONSE_FIELDS = [
  'id',
  'object',
  'created_at',
  'completed_at',
  'status',
  'incomplete_details',
  'model',
  'previous_response_id',
  'instructions',
  'output',
  'error',
  'tools',
  'tool_choice',
  'truncation',
  'parallel_tool_calls',
  'text',
  'top_p',
  'presence_penalty',
  'frequency_penalty',
  'top_logprobs',
  'temperature',
  'reasoning',
  'user',
  'usage',
  'max_output_tokens',
  'max_tool_calls',
  'store',
  'background',
  'service_tier',
  'metadata',
  'safety_identifier',
  'prompt_cache_key',
]

const WEATHER_TOOL = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Current weather of a city',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  },
  strict: true,
}

/** The texts of the messages an upstream request carried, in order, whatever its API. */
function tool(parameters: Record<string, unknown>) {
  return { type: 'function', name: 'f', parameters }
}

/** A JSON Schema whose objects nest `depth` levels deep. */
function nestedSchema(depth: number): Record<string, unknown> {
  let schema: Record<string, unknown> = { type: 'string' }
  for (let level = 0; level < depth; level++) schema = { type: 'object', properties: { child: schema } }
  return schema
}

function upstreamTexts(body: unknown): string[] {
  const record = body as { input?: unknown; messages?: { content: unknown }[] }
  const entries = (Array.isArray(record.input) ? record.input : (record.messages ?? [])) as {
    content?: unknown
  }[]
  return entries.flatMap((entry) => {
    if (typeof entry.content === 'string') return [entry.content]
    if (Array.isArray(entry.content)) {
      return [(entry.content as { text?: string }[]).map((part) => part.text ?? '').join('')]
    }
    return []
  })
}

describe.each(ADAPTERS)('/v1/responses through the %s adapter', (adapter) => {
  let v1: V1Setup

  beforeAll(async () => {
    v1 = await startV1(adapter)
  })
  afterAll(() => v1[Symbol.asyncDispose]())
  beforeEach(() => v1.upstream.reset())

  it('creates a response with every schema field', async () => {
    v1.upstream.enqueue({ text: 'Hello there, friend.', usage: { inputTokens: 7, outputTokens: 4 } })
    const response = await v1.client.responses.create({
      model: 'gpt-fake',
      input: 'Say hello',
      temperature: 0.5,
      metadata: { case: 'create' },
    })
    expect(response.id).toMatch(/^resp_/)
    expect(response.object).toBe('response')
    expect(response.status).toBe('completed')
    expect(response.output_text).toBe('Hello there, friend.')
    expect(response.output).toEqual([
      expect.objectContaining({ type: 'message', role: 'assistant', status: 'completed' }),
    ])
    expect(response.usage).toEqual({
      input_tokens: 7,
      input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      output_tokens: 4,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 11,
    })
    expect(response).toMatchObject({
      model: 'gpt-fake',
      temperature: 0.5,
      metadata: { case: 'create' },
      background: false,
      store: true,
      truncation: 'disabled',
      text: { format: { type: 'text' } },
      previous_response_id: null,
      instructions: null,
      error: null,
    })
    expect(response.conversation?.id).toMatch(/^conv_/)
    expect(response.completed_at).toBeGreaterThanOrEqual(response.created_at)
    for (const field of RESPONSE_FIELDS) expect(response, field).toHaveProperty(field)
    expect(v1.upstream.callCount()).toBe(1)
  })

  it('streams in the documented order, with one id and whole frames numbered from 0', async () => {
    v1.upstream.enqueue({ deltas: ['One', ' two', ' three'] })
    const response = await v1.fetchV1('/responses', {
      method: 'POST',
      body: JSON.stringify({ model: 'gpt-fake', input: 'Count', stream: true }),
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const frames = await readFrames(response)
    expect(frames.at(-1)?.data).toBe('[DONE]')
    const events = frames.slice(0, -1).map((frame) => {
      // One `event:` line and one single-line `data:` whose type it repeats.
      expect(frame.raw.split('\n')).toHaveLength(2)
      const data = JSON.parse(frame.data) as ResponseStreamEvent
      expect(frame.event).toBe(data.type)
      return data
    })
    expect(events.map((event) => event.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ])
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index))
    const ids = events.flatMap((event) => ('response' in event ? [event.response.id] : []))
    expect(new Set(ids).size).toBe(1)
    const completed = events.at(-1)
    if (completed?.type !== 'response.completed') throw new Error('no response.completed')
    expect(completed.response.status).toBe('completed')
    expect(completed.response.output).toEqual([
      expect.objectContaining({ content: [expect.objectContaining({ text: 'One two three' })] }),
    ])
  })

  it('is parsed by the SDK stream helper, and the turn is stored before response.completed', async () => {
    v1.upstream.enqueue({ deltas: ['Stored', ' first'] })
    const stream = v1.client.responses.stream({ model: 'gpt-fake', input: 'Go' })
    let storedAtCompletion: string | undefined
    for await (const event of stream) {
      if (event.type === 'response.completed') {
        storedAtCompletion = (await v1.client.responses.retrieve(event.response.id)).status
      }
    }
    const final = await stream.finalResponse()
    expect(final.output_text).toBe('Stored first')
    expect(storedAtCompletion).toBe('completed')
  })

  it('retrieves, lists input items, and deletes (then 404)', async () => {
    const created = await v1.client.responses.create({
      model: 'gpt-fake',
      input: [
        { role: 'developer', content: 'Answer briefly.' },
        { role: 'user', content: [{ type: 'input_text', text: 'First question' }] },
      ],
    })
    const retrieved = await v1.client.responses.retrieve(created.id)
    expect(retrieved.id).toBe(created.id)
    expect(retrieved.output).toEqual(created.output)
    expect(retrieved.usage).toEqual(created.usage)

    const page = await v1.client.responses.inputItems.list(created.id, { order: 'asc' })
    expect(page.data.map((item) => item.type === 'message' && item.role)).toEqual(['developer', 'user'])
    expect(page.data[1]).toMatchObject({ content: [{ type: 'input_text', text: 'First question' }] })
    const firstOnly = await v1.fetchV1(`/responses/${created.id}/input_items?limit=1`)
    expect(await firstOnly.json()).toMatchObject({
      object: 'list',
      has_more: true,
      data: [{ role: 'user' }],
      first_id: page.data[1]?.id,
      last_id: page.data[1]?.id,
    })

    await v1.client.responses.delete(created.id)
    await expect(v1.client.responses.retrieve(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError)
    await expect(v1.client.responses.inputItems.list(created.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError)
  })

  it('chains three responses by previous_response_id, instructions not carried over', async () => {
    v1.upstream.enqueue({ text: 'Noted, Ada.' }, { text: 'Paris, noted.' }, { text: 'Ada, in Paris.' })
    const first = await v1.client.responses.create({
      model: 'gpt-fake',
      input: 'My name is Ada.',
      instructions: 'Be terse.',
    })
    const second = await v1.client.responses.create({
      model: 'gpt-fake',
      input: 'I live in Paris.',
      previous_response_id: first.id,
    })
    const third = await v1.client.responses.create({
      model: 'gpt-fake',
      input: 'Who and where am I?',
      previous_response_id: second.id,
    })
    expect(third.output_text).toBe('Ada, in Paris.')
    expect(third.previous_response_id).toBe(second.id)
    expect(first.instructions).toBe('Be terse.')
    expect(third.instructions).toBeNull()
    expect(third.conversation?.id).toBe(first.conversation?.id)

    const last = v1.upstream.lastCall()
    const body = last?.body as Record<string, unknown>
    const whole = [
      'My name is Ada.',
      'Noted, Ada.',
      'I live in Paris.',
      'Paris, noted.',
      'Who and where am I?',
    ]
    if (adapter === 'openai-responses') {
      // Native state: only the new input goes up, with the upstream's own previous id.
      expect(body.previous_response_id).toBe(v1.upstream.storedResponseIds()[1])
      expect(upstreamTexts(body)).toEqual(['Who and where am I?'])
      expect(upstreamTexts({ input: last?.context })).toEqual(whole)
    } else {
      expect(upstreamTexts(body)).toEqual(whole)
    }
    expect(body.instructions ?? null).toBeNull()
    expect(JSON.stringify(body)).not.toContain('Be terse.')
  })

  it('round-trips a client function call', async () => {
    v1.upstream.enqueue(
      { toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' }, callId: 'call_weather_1' }] },
      { text: 'It is sunny in Paris.' },
    )
    const asked = await v1.client.responses.create({
      model: 'gpt-fake',
      input: 'Weather in Paris?',
      tools: [WEATHER_TOOL],
    })
    expect(asked.status).toBe('completed')
    expect(asked.tools).toEqual([expect.objectContaining({ name: 'get_weather', strict: true })])
    expect(asked.output).toEqual([
      expect.objectContaining({
        type: 'function_call',
        name: 'get_weather',
        call_id: 'call_weather_1',
        arguments: '{"city":"Paris"}',
        status: 'completed',
      }),
    ])
    const answered = await v1.client.responses.create({
      model: 'gpt-fake',
      previous_response_id: asked.id,
      input: [{ type: 'function_call_output', call_id: 'call_weather_1', output: '{"sky":"sunny"}' }],
      tools: [WEATHER_TOOL],
    })
    expect(answered.output_text).toBe('It is sunny in Paris.')
    const body = JSON.stringify(v1.upstream.lastCall()?.body)
    expect(body).toContain('call_weather_1')
    expect(body).toContain('{\\"sky\\":\\"sunny\\"}')
    expect(v1.upstream.callCount()).toBe(2)
  })

  it('streams a function call as added, arguments delta/done, done', async () => {
    v1.upstream.enqueue({
      toolCalls: [{ name: 'get_weather', arguments: { city: 'Oslo' }, callId: 'call_oslo' }],
    })
    const stream = await v1.client.responses.create({
      model: 'gpt-fake',
      input: 'Weather in Oslo?',
      tools: [WEATHER_TOOL],
      stream: true,
    })
    const types: string[] = []
    for await (const event of stream) types.push(event.type)
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ])
  })

  it('replays an Idempotency-Key retry without another upstream call', async () => {
    v1.upstream.enqueue({ text: 'Exactly once.' })
    const body = { model: 'gpt-fake', input: 'Do it once' }
    const key = { headers: { 'Idempotency-Key': `once-${adapter}` } }
    const first = await v1.client.responses.create(body, key)
    const retry = await v1.client.responses.create(body, key)
    expect(retry.id).toBe(first.id)
    expect(retry.output).toEqual(first.output)
    const streamed = await v1.client.responses.create({ ...body, stream: true }, key)
    const ids = new Set<string>()
    for await (const event of streamed) if ('response' in event) ids.add(event.response.id)
    expect([...ids]).toEqual([first.id])
    expect(v1.upstream.callCount()).toBe(1)

    const changed = v1.client.responses.create({ ...body, input: 'Something else' }, key)
    await expect(changed).rejects.toMatchObject({ status: 422, code: 'idempotency_key_reused' })
    expect(v1.upstream.callCount()).toBe(1)
  })

  it('answers a previous response whose conversation was deleted with the same 404, right after using it', async () => {
    // This instance remembers which conversation each response belongs to; the claim must
    // still refuse a parent whose conversation is gone.
    const first = await v1.client.responses.create({ model: 'gpt-fake', input: 'One' })
    const second = await v1.client.responses.create({
      model: 'gpt-fake',
      input: 'Two',
      previous_response_id: first.id,
    })
    const conversationId = second.conversation?.id
    expect(conversationId).toBe(first.conversation?.id)
    const calls = v1.upstream.callCount()
    await v1.client.conversations.delete(conversationId as string)
    for (const previous of [first.id, second.id]) {
      await expect(
        v1.client.responses.create({ model: 'gpt-fake', input: 'Three', previous_response_id: previous }),
      ).rejects.toMatchObject({ status: 404, code: 'not_found', param: 'previous_response_id' })
    }
    expect(v1.upstream.callCount()).toBe(calls)
  })

  it('answers an unknown or foreign previous_response_id with the same 404', async () => {
    const unknown = await v1.fetchV1('/responses', {
      method: 'POST',
      body: JSON.stringify({ input: 'hi', previous_response_id: 'resp_doesNotExist00000000' }),
    })
    expect(unknown.status).toBe(404)
    const unknownBody = await unknown.json()
    expect(unknownBody).toEqual({
      error: {
        message: "No response found with id 'resp_doesNotExist00000000'",
        type: 'not_found',
        param: 'previous_response_id',
        code: 'not_found',
      },
    })
    const theirs = await v1.other.responses.create({ model: 'gpt-fake', input: 'Private' })
    await expect(
      v1.client.responses.create({ model: 'gpt-fake', input: 'hi', previous_response_id: theirs.id }),
    ).rejects.toMatchObject({ status: 404, code: 'not_found', param: 'previous_response_id' })
    await expect(v1.client.responses.retrieve(theirs.id)).rejects.toMatchObject({ status: 404 })
    expect(v1.upstream.callCount()).toBe(1)
  })
})

async function aliceId(v1: V1Setup): Promise<string | undefined> {
  return (await v1.server.stores.users.authenticate(v1.apiKey))?.id
}

describe('/v1 with the responses adapter in stateless mode, and refusals', () => {
  let v1: V1Setup

  beforeAll(async () => {
    v1 = await startV1('openai-responses', { nativeState: false })
  })
  afterAll(() => v1[Symbol.asyncDispose]())
  beforeEach(() => v1.upstream.reset())

  it('sends the whole context and no upstream previous_response_id', async () => {
    v1.upstream.enqueue({ text: 'One.' }, { text: 'Two.' }, { text: 'Three.' })
    let previous: string | null = null
    for (const input of ['First', 'Second', 'Third']) {
      const response: OpenAI.Responses.Response = await v1.client.responses.create({
        model: 'gpt-fake',
        input,
        previous_response_id: previous,
      })
      previous = response.id
    }
    const body = v1.upstream.lastCall()?.body as Record<string, unknown>
    expect(body.previous_response_id ?? null).toBeNull()
    expect(upstreamTexts(body)).toEqual(['First', 'One.', 'Second', 'Two.', 'Third'])
    expect(v1.upstream.callCount()).toBe(3)
  })

  async function post(body: unknown, headers: Record<string, string> = {}) {
    const response = await v1.fetchV1('/responses', {
      method: 'POST',
      body: typeof body === 'string' ? body : JSON.stringify(body),
      headers,
    })
    return { status: response.status, body: (await response.json()) as { error: Record<string, unknown> } }
  }

  it.each([
    [{ model: 'gpt-fake' }, 'input'],
    [{ input: '' }, 'input'],
    [{ input: 'hi', temperature: 3 }, 'temperature'],
    [{ input: 'hi', tools: [{ type: 'web_search' }] }, 'tools.0.type'],
    [{ input: 'hi', tools: [{ type: 'function', name: 'bad name!' }] }, 'tools.0.name'],
    [
      { input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] },
      'input.0.content.0.type',
    ],
    [{ input: [{ role: 'user', content: 'nul \u0000 here' }] }, 'input.0.content.0.text'],
    [{ input: 'hi', metadata: { n: 1 } }, 'metadata.n'],
    [{ input: 'hi', background: true }, 'background'],
    [{ input: 'hi', text: { format: { type: 'json_object' } } }, 'text'],
    [{ input: 'hi', previous_response_id: 'resp_x', conversation: 'conv_y' }, 'previous_response_id'],
    [{ input: 'hi', instructionz: 'Be brief.' }, 'instructionz'],
    [{ input: 'hi', moderation: { input: true } }, 'moderation'],
    [{ input: 'hi', tools: [{ type: 'function', name: 'f', parameter: {} }] }, 'tools.0'],
    [{ input: 'hi', tools: [tool(nestedSchema(30))] }, 'tools.0.parameters'],
    [{ input: 'hi', tools: [tool({ type: 'object', description: 'x\u0000y' })] }, 'tools.0.parameters'],
    [{ input: 'hi', tools: [tool({ type: 'object', properties: { '\ud800': {} } })] }, 'tools.0.parameters'],
    [{ input: 'hi', tool_choice: { type: 'function', name: 'a\u0000' } }, 'tool_choice.name'],
    [
      { input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'file:///etc/passwd' }] }] },
      'input.0.content.0.image_url',
    ],
  ])('refuses %j with 400 naming %s', async (body, param) => {
    const { status, body: error } = await post(body)
    expect(status).toBe(400)
    expect(error.error).toMatchObject({ type: 'invalid_request_error', param })
    expect(typeof error.error.message).toBe('string')
    expect(v1.upstream.callCount()).toBe(0)
  })

  it('names an unknown parameter as the OpenAI API does, and accepts the ones that change nothing', async () => {
    expect(await post({ input: 'hi', instructionz: 'x' })).toMatchObject({
      status: 400,
      body: {
        error: {
          code: 'unknown_parameter',
          param: 'instructionz',
          message: "Unknown parameter: 'instructionz'.",
        },
      },
    })
    v1.upstream.enqueue({ text: 'Fine.' })
    const accepted = await post({
      input: 'hi',
      service_tier: 'auto',
      stream_options: { include_obfuscation: false },
      prompt_cache_retention: '24h',
      prompt_cache_options: { mode: 'implicit' },
      context_management: [],
    })
    expect(accepted.status).toBe(200)
    expect(v1.upstream.callCount()).toBe(1)
  })

  it('refuses a tool schema nested thousands of levels deep with a 400, not a crash', async () => {
    const deep = `${'{"type":"object","properties":{"child":'.repeat(3000)}{}${'}}'.repeat(3000)}`
    const { status, body } = await post(
      `{"input":"hi","tools":[{"type":"function","name":"f","parameters":${deep}}]}`,
    )
    expect(status).toBe(400)
    expect(body.error).toMatchObject({ param: 'tools.0.parameters', code: 'invalid_value' })
    expect(v1.upstream.callCount()).toBe(0)
  })

  it('runs a turn whose tool schema nests right up to the limit, its events stored whole', async () => {
    // nestedSchema(n)'s innermost string sits 2n + 1 levels deep: n = 11 is the deepest allowed.
    const deepest = Math.floor((LIMITS.maxToolSchemaDepth - 1) / 2)
    v1.upstream.enqueue({ text: 'Deep enough.' })
    const { status, body } = await post({ input: 'hi', tools: [tool(nestedSchema(deepest))] })
    expect(status).toBe(200)
    expect(body).toMatchObject({ status: 'completed' })
    expect((await post({ input: 'hi', tools: [tool(nestedSchema(deepest + 1))] })).status).toBe(400)
  })

  it('titles a new conversation without splitting a character at the cut', async () => {
    // The emoji's two UTF-16 halves straddle the 79th character, where the title is cut.
    const input = `${'a'.repeat(78)}\u{1F600} and more words after the emoji`
    v1.upstream.enqueue({ text: 'Hello.' })
    const response = await v1.client.responses.create({ model: 'gpt-fake', input })
    expect(response.status).toBe('completed')
    const conversations = await v1.server.stores.conversations.list((await aliceId(v1)) ?? '', {})
    expect(conversations.data.map((conversation) => conversation.title)).toContain(`${'a'.repeat(78)}…`)
  })

  it('answers a replayed Idempotency-Key whose response was deleted with a 404 naming the key', async () => {
    v1.upstream.enqueue({ text: 'Once.' })
    const headers = { 'idempotency-key': `deleted-${Date.now()}` }
    const first = await post({ input: 'Say it once.' }, headers)
    expect(first.status).toBe(200)
    const id = (first.body as unknown as { id: string }).id
    expect((await v1.fetchV1(`/responses/${id}`, { method: 'DELETE' })).status).toBe(200)
    expect(await post({ input: 'Say it once.' }, headers)).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found', param: 'Idempotency-Key' } },
    })
    expect(v1.upstream.callCount()).toBe(1)
  })

  it('refuses invalid JSON, oversize bodies, bad keys and unknown routes in the error shape', async () => {
    expect(await post('{"input": ')).toMatchObject({ status: 400, body: { error: { code: 'invalid_json' } } })
    // Sent chunked, so that the endpoint itself (not a Content-Length check in front) counts.
    const chunk = new TextEncoder().encode('x'.repeat(256 * 1024))
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"input":"'))
        for (let i = 0; i < 9; i++) controller.enqueue(chunk)
        controller.enqueue(new TextEncoder().encode('"}'))
        controller.close()
      },
    })
    const huge = await v1.fetchV1('/responses', { method: 'POST', body, duplex: 'half' } as RequestInit)
    expect(huge.status).toBe(413)
    expect(await huge.json()).toMatchObject({
      error: { code: 'payload_too_large', type: 'invalid_request_error' },
    })
    const anonymous = await fetch(`${v1.base}/responses`, { method: 'POST', body: '{"input":"hi"}' })
    expect(anonymous.status).toBe(401)
    expect(await anonymous.json()).toMatchObject({
      error: { type: 'authentication_error', code: 'invalid_api_key' },
    })
    const unknown = await v1.fetchV1('/nothing-here')
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toMatchObject({ error: { code: 'unknown_url', param: null } })
    expect(v1.upstream.callCount()).toBe(0)
  })

  it('leaves no conversation behind for a refused request', async () => {
    const before = await v1.server.stores.conversations.list((await aliceId(v1)) ?? '', {})
    await post({ input: 'hi', tools: [{ type: 'function', name: 'x', parameters: 'not an object' }] })
    const after = await v1.server.stores.conversations.list((await aliceId(v1)) ?? '', {})
    expect(after.data.length).toBe(before.data.length)
  })
})
