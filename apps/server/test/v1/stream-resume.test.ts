import { request } from 'node:http'
import type { ResponseStreamEvent } from 'openai/resources/responses/responses'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { eventually, readFrames, startV1, type V1Setup } from './harness.ts'

// Servers start on a shared two-core machine: give hooks and tests room.
vi.setConfig({ testTimeout: 30_000, hookTimeout: 60_000 })

const WORDS = Array.from({ length: 24 }, (_, i) => `w${i + 1}`)
const TEXT = WORDS.join(' ')

function parse(data: string): ResponseStreamEvent {
  return JSON.parse(data) as ResponseStreamEvent
}

/** Streams a POST until `stopAfter` events arrived, then drops the connection. */
async function streamThenDrop(v1: V1Setup, body: unknown, stopAfter: number): Promise<ResponseStreamEvent[]> {
  const controller = new AbortController()
  const response = await v1.fetchV1('/responses', {
    method: 'POST',
    body: JSON.stringify(body),
    signal: controller.signal,
  })
  const reader = response.body?.getReader()
  if (!reader) throw new Error('no body')
  const decoder = new TextDecoder()
  const events: ResponseStreamEvent[] = []
  let buffer = ''
  while (events.length < stopAfter) {
    const { value, done } = await reader.read()
    if (done) break
    buffer += decoder.decode(value, { stream: true })
    let end = buffer.indexOf('\n\n')
    while (end >= 0 && events.length < stopAfter) {
      const frame = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const data = frame.split('\n').find((line) => line.startsWith('data: '))
      if (data) events.push(parse(data.slice('data: '.length)))
      end = buffer.indexOf('\n\n')
    }
  }
  controller.abort()
  return events
}

describe('/v1 stream resume, disconnects and cancel', () => {
  let v1: V1Setup

  beforeAll(async () => {
    v1 = await startV1('openai-chat')
  })
  afterAll(() => v1[Symbol.asyncDispose]())
  beforeEach(() => v1.upstream.reset())

  it('resumes with starting_after: no gap, no duplicate; the dropped client did not stop the turn', async () => {
    v1.upstream.enqueue({ text: TEXT, delayMs: 15 })
    const head = await streamThenDrop(v1, { model: 'gpt-fake', input: 'Count', stream: true }, 8)
    const created = head[0]
    if (created?.type !== 'response.created') throw new Error('no response.created')
    const id = created.response.id
    const lastSeen = head.at(-1)?.sequence_number ?? -1
    expect(lastSeen).toBe(7)

    const resumed = await v1.fetchV1(`/responses/${id}?stream=true&starting_after=${lastSeen}`)
    expect(resumed.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const frames = await readFrames(resumed)
    const tail = frames.filter((frame) => frame.data !== '[DONE]').map((frame) => parse(frame.data))
    const all = [...head, ...tail]
    expect(all.map((event) => event.sequence_number)).toEqual(all.map((_, index) => index))
    expect(all.at(-1)?.type).toBe('response.completed')
    const text = all.map((event) => (event.type === 'response.output_text.delta' ? event.delta : '')).join('')
    expect(text).toBe(TEXT)

    const stored = await v1.client.responses.retrieve(id)
    expect(stored.status).toBe('completed')
    expect(stored.output_text).toBe(TEXT)
    expect(v1.upstream.callCount()).toBe(1)
  })

  it('resumes through the SDK (responses.retrieve with stream and starting_after)', async () => {
    v1.upstream.enqueue({ deltas: ['a', 'b', 'c', 'd'] })
    const done = await v1.client.responses.create({ model: 'gpt-fake', input: 'Letters' })
    const stream = await v1.client.responses.retrieve(done.id, { stream: true, starting_after: 5 })
    const seqs: number[] = []
    for await (const event of stream) seqs.push(event.sequence_number)
    expect(seqs[0]).toBe(6)
    expect(seqs).toEqual(seqs.map((_, index) => index + 6))

    const helper = v1.client.responses.stream({ response_id: done.id, starting_after: 3 })
    const seen: number[] = []
    helper.on('event', (event) => seen.push(event.sequence_number))
    const final = await helper.finalResponse()
    expect(final.output_text).toBe('abcd')
    expect(seen[0]).toBe(4)
  })

  it('writes every SSE frame whole', async () => {
    v1.upstream.enqueue({ deltas: ['x', 'y', 'z'], delayMs: 5 })
    const url = new URL(`${v1.base}/responses`)
    const chunks = await new Promise<string[]>((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${v1.apiKey}`, 'content-type': 'application/json' },
        },
        (res) => {
          const received: string[] = []
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => received.push(chunk))
          res.on('end', () => resolve(received))
          res.on('error', reject)
        },
      )
      req.on('error', reject)
      req.end(JSON.stringify({ model: 'gpt-fake', input: 'xyz', stream: true }))
    })
    expect(chunks.length).toBeGreaterThan(3)
    for (const chunk of chunks) expect(chunk.endsWith('\n\n')).toBe(true)
  })

  it('cancels a running response: stored as cancelled, the stream ends with response.incomplete', async () => {
    v1.upstream.enqueue({ text: TEXT, delayMs: 40 })
    const stream = await v1.client.responses.create({ model: 'gpt-fake', input: 'Slow', stream: true })
    const events: ResponseStreamEvent[] = []
    let id = ''
    for await (const event of stream) {
      events.push(event)
      if (event.type === 'response.created') id = event.response.id
      if (event.type === 'response.output_text.delta' && events.length === 6) {
        const cancelled = await v1.client.responses.cancel(id)
        expect(cancelled.status).toBe('cancelled')
      }
    }
    const last = events.at(-1)
    expect(last?.type).toBe('response.incomplete')
    expect(last?.type === 'response.incomplete' && last.response.status).toBe('cancelled')
    const stored = await v1.client.responses.retrieve(id)
    expect(stored.status).toBe('cancelled')
    expect(stored.output_text.length).toBeLessThan(TEXT.length)
    await expect(
      v1.client.responses.cancel(
        (await v1.client.responses.create({ model: 'gpt-fake', input: 'quick' })).id,
      ),
    ).rejects.toMatchObject({ status: 400, code: 'response_not_cancellable' })
  })

  it('answers conversation_busy (409) to a second writer while a response runs', async () => {
    v1.upstream.enqueue({ text: TEXT, delayMs: 20 })
    const conversation = await v1.client.conversations.create({})
    const running = v1.client.responses.create({
      model: 'gpt-fake',
      input: 'Long',
      conversation: conversation.id,
    })
    await eventually(async () => (v1.upstream.callCount() > 0 ? true : undefined))
    await expect(
      v1.client.responses.create({ model: 'gpt-fake', input: 'Me too', conversation: conversation.id }),
    ).rejects.toMatchObject({ status: 409, code: 'conversation_busy' })
    expect((await running).status).toBe('completed')
  })

  it('reports an upstream failure mid-stream as error then response.failed, stored with partial output', async () => {
    v1.upstream.enqueue({ deltas: ['Half', ' a', ' reply'], fault: { type: 'reset_after', deltas: 2 } })
    const stream = await v1.client.responses.create({ model: 'gpt-fake', input: 'Break', stream: true })
    const events: ResponseStreamEvent[] = []
    for await (const event of stream) events.push(event)
    const types = events.map((event) => event.type)
    expect(types.slice(-2)).toEqual(['error', 'response.failed'])
    const failed = events.at(-1)
    if (failed?.type !== 'response.failed') throw new Error('no response.failed')
    expect(failed.response.status).toBe('failed')
    expect(failed.response.error?.code).toBe('stream_broken')
    const stored = await v1.client.responses.retrieve(failed.response.id)
    expect(stored.status).toBe('failed')
    expect(stored.output_text).toBe('Half a')
    expect(JSON.stringify(stored)).not.toMatch(/at .*\.ts|ECONN|sk-upstream/)
  })
})
