import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import OpenAI, { NotFoundError } from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type FakeUpstream, startFakeUpstream } from '../src/fake-upstream/index.ts'

let upstream: FakeUpstream
let client: OpenAI

beforeAll(async () => {
  upstream = await startFakeUpstream()
  client = new OpenAI({ apiKey: 'k', baseURL: upstream.url, maxRetries: 0 })
})
afterAll(async () => {
  await upstream.stop()
})
beforeEach(() => upstream.reset())

interface SseEvent {
  event: string | null
  data: string
}

async function rawSse(
  path: string,
  body: unknown,
): Promise<{ contentType: string | null; events: SseEvent[] }> {
  const response = await fetch(`${upstream.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
    body: JSON.stringify(body),
  })
  const text = await response.text()
  const events = text
    .split('\n\n')
    .filter(Boolean)
    .map((block) => {
      const lines = block.split('\n')
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? null
      const data = lines
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n')
      return { event, data }
    })
  return { contentType: response.headers.get('content-type'), events }
}

describe('fake upstream wire format', () => {
  it('streams the Responses event sequence with sequence numbers and matching event names', async () => {
    upstream.enqueue({ text: 'Hi there', toolCalls: [{ name: 'clock', arguments: {}, callId: 'call_x' }] })
    const { contentType, events } = await rawSse('/responses', { model: 'm', input: 'hello', stream: true })
    expect(contentType).toMatch(/^text\/event-stream/)
    const parsed = events.map((e) => JSON.parse(e.data) as Record<string, unknown>)
    expect(events.every((e, i) => e.event === parsed[i]?.['type'])).toBe(true)
    expect(parsed.map((e) => e['sequence_number'])).toEqual(parsed.map((_, i) => i))
    expect(parsed.map((e) => e['type'])).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      // '{}' split in up to 3 chunks of at least one character.
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ])
    const created = parsed[0]?.['response'] as Record<string, unknown>
    const completed = parsed.at(-1)?.['response'] as Record<string, unknown>
    expect(created['id']).toBe(completed['id'])
    expect(created['status']).toBe('in_progress')
    expect(completed['usage']).toMatchObject({
      input_tokens_details: { cached_tokens: 0 },
      output_tokens_details: { reasoning_tokens: 0 },
    })
    for (const field of [
      'previous_response_id',
      'instructions',
      'tools',
      'tool_choice',
      'parallel_tool_calls',
      'truncation',
      'text',
      'temperature',
      'top_p',
      'metadata',
      'store',
      'background',
      'error',
      'incomplete_details',
      'completed_at',
    ]) {
      expect(completed).toHaveProperty(field)
    }
  })

  it('is parsed by the real SDK stream, and stores responses for retrieve and previous_response_id', async () => {
    const stream = await client.responses.create({ model: 'm', input: 'hello', stream: true })
    const types: string[] = []
    let id = ''
    let text = ''
    for await (const event of stream) {
      types.push(event.type)
      if (event.type === 'response.output_text.delta') text += event.delta
      if (event.type === 'response.completed') id = event.response.id
    }
    expect(types.at(-1)).toBe('response.completed')
    // The default reply: 20 deterministic words.
    expect(text.split(' ')).toHaveLength(20)
    const stored = await client.responses.retrieve(id)
    expect(stored.output_text).toBe(text)

    const next = await client.responses.create({ model: 'm', input: 'more', previous_response_id: id })
    expect(next.previous_response_id).toBe(id)
    expect(upstream.lastCall('responses')?.context).toHaveLength(3)

    await expect(client.responses.retrieve('resp_unknown')).rejects.toBeInstanceOf(NotFoundError)
    await expect(
      client.responses.create({ model: 'm', input: 'x', previous_response_id: 'resp_unknown' }),
    ).rejects.toMatchObject({
      status: 400,
      code: 'previous_response_not_found',
    })
    expect(upstream.callCount('responses')).toBe(3)
    expect(upstream.callCount('responses.get')).toBe(2)
  })

  it('streams Chat Completions chunks ending with [DONE], tool calls by index, usage on request', async () => {
    upstream.enqueue({
      text: 'Yo',
      toolCalls: [{ name: 'a', arguments: '{"k":1}', callId: 'c1', argumentChunks: 2 }],
    })
    const withUsage = await rawSse('/chat/completions', {
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    })
    expect(withUsage.events.at(-1)?.data).toBe('[DONE]')
    const chunks = withUsage.events.slice(0, -1).map((e) => JSON.parse(e.data) as Record<string, unknown>)
    expect(chunks.every((c) => c['object'] === 'chat.completion.chunk')).toBe(true)
    const usageChunk = chunks.at(-1) as { choices: unknown[]; usage: Record<string, unknown> }
    expect(usageChunk.choices).toEqual([])
    expect(usageChunk.usage).toMatchObject({
      completion_tokens: 3,
      prompt_tokens_details: { cached_tokens: 0 },
    })
    const toolDeltas = chunks.flatMap((c) =>
      (c['choices'] as { delta: { tool_calls?: { index: number }[] } }[]).flatMap(
        (ch) => ch.delta.tool_calls ?? [],
      ),
    )
    expect(toolDeltas.map((d) => d.index)).toEqual([0, 0, 0])

    const withoutUsage = await rawSse('/chat/completions', { model: 'm', messages: [], stream: true })
    const plain = withoutUsage.events.slice(0, -1).map((e) => JSON.parse(e.data) as Record<string, unknown>)
    expect(plain.some((c) => 'usage' in c)).toBe(false)

    const completion = await client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
    })
    expect(completion.choices[0]?.message.content?.split(' ')).toHaveLength(20)
    expect(upstream.callCount('chat.completions')).toBe(3)
  })

  it('answers with default text configured by tokens, and rejects a wrong key when one is set', async () => {
    const small = await startFakeUpstream({ tokens: 4, apiKey: 'right' })
    try {
      const ok = new OpenAI({ apiKey: 'right', baseURL: small.url, maxRetries: 0 })
      const response = await ok.responses.create({ model: 'm', input: 'x' })
      expect(response.output_text).toBe('Lorem ipsum dolor sit')
      const wrong = new OpenAI({ apiKey: 'wrong', baseURL: small.url, maxRetries: 0 })
      await expect(wrong.responses.create({ model: 'm', input: 'x' })).rejects.toMatchObject({ status: 401 })
    } finally {
      await small.stop()
    }
  })

  it('keeps a bounded number of stored responses, dropping the oldest', async () => {
    const small = await startFakeUpstream({ keepResponses: 2 })
    try {
      const sdk = new OpenAI({ apiKey: 'k', baseURL: small.url, maxRetries: 0 })
      const ids: string[] = []
      for (let i = 0; i < 3; i += 1) ids.push((await sdk.responses.create({ model: 'm', input: `n${i}` })).id)
      expect(small.storedResponseIds()).toEqual(ids.slice(1))
    } finally {
      await small.stop()
    }
  })

  it('runs standalone from the command line and prints its URL', async () => {
    const main = fileURLToPath(new URL('../src/fake-upstream/main.ts', import.meta.url))
    const child = spawn(process.execPath, ['--import', 'tsx', main, '--port', '0', '--tokens', '3'], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    try {
      const [chunk] = (await once(child.stdout, 'data')) as [Buffer]
      const url = chunk.toString().trim()
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/)
      const cli = new OpenAI({ apiKey: 'k', baseURL: url, maxRetries: 0 })
      const response = await cli.responses.create({ model: 'm', input: 'x' })
      expect(response.output_text).toBe('Lorem ipsum dolor')
    } finally {
      child.kill('SIGTERM')
      await once(child, 'exit')
    }
  }, 20_000)
})
