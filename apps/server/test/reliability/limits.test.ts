import { randomUUID } from 'node:crypto'
import { request } from 'node:http'
import { connect as connectTcp } from 'node:net'
import { isParleyClientError } from '@parley/client'
import { ScriptedModel, textStep } from '@parley/providers/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { UserLimits } from '../../src/limits/index.ts'
import { collect, connect, sleep, slowModel, startServer, type TestServer } from '../helpers.ts'
import { eventually, isRecord } from './support.ts'

const MAX_BODY = 64 * 1024

let server: TestServer
beforeAll(async () => {
  server = await startServer(
    { auth: 'keys', rateLimitPerMin: 8, maxStreamsPerUser: 2, maxBodyBytes: MAX_BODY },
    { provider: slowModel(40, 25) },
  )
})
afterAll(async () => {
  await server.close()
})

const newKey = async (name: string) => (await server.stores.users.create(name)).apiKey

async function expectV1Error(response: Response, status: number, code: string) {
  expect(response.status).toBe(status)
  const body = (await response.json()) as unknown
  const error = isRecord(body) && isRecord(body['error']) ? body['error'] : null
  expect(error && Object.keys(error).sort()).toEqual(['code', 'message', 'param', 'type'])
  expect(error?.['code']).toBe(code)
}

describe('token bucket', () => {
  it('refills at the configured rate and says how long to wait', () => {
    let now = 0
    const limits = new UserLimits({ ratePerMinute: 60, burst: 2, maxStreamsPerUser: 0, now: () => now })
    limits.takeRequest('u')
    limits.takeRequest('u')
    let refused: unknown
    try {
      limits.takeRequest('u')
    } catch (error) {
      refused = error
    }
    expect(refused).toMatchObject({ reason: 'rate_limited', status: 429, retryAfterMs: 1_000 })
    limits.takeRequest('other')
    now += 1_000
    limits.takeRequest('u')
    expect(() => limits.takeRequest('u')).toThrow(/Too many requests/)
  })
})

describe('per-user rate limit', () => {
  it('tRPC: TOO_MANY_REQUESTS, reason rate_limited, retryAfterMs and a Retry-After header', async () => {
    const key = await newKey('busy-trpc')
    using client = connect(server, 'sse', key)
    for (let i = 0; i < 8; i++) await client.conversations.list.query({})
    const error = await client.conversations.list.query({}).then(
      () => null,
      (caught: unknown) => caught,
    )
    expect(isParleyClientError(error) && error.reason).toBe('rate_limited')
    expect(isParleyClientError(error) && error.status).toBe(429)
    expect(isParleyClientError(error) && error.data?.code).toBe('TOO_MANY_REQUESTS')
    expect(isParleyClientError(error) && (error.retryAfterMs ?? 0) > 0).toBe(true)
    const raw = await fetch(`${server.url}/trpc/conversations.list`, {
      headers: { authorization: `Bearer ${key}` },
    })
    expect(raw.status).toBe(429)
    expect(Number(raw.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    // Another user is not affected.
    using other = connect(server, 'sse', await newKey('calm'))
    await expect(other.conversations.list.query({})).resolves.toBeDefined()
  })

  it('/v1: 429 with the OpenAI error shape and a Retry-After header', async () => {
    const key = await newKey('busy-v1')
    const call = () =>
      fetch(`${server.url}/v1/conversations/conv_0000000000000000unknown`, {
        headers: { authorization: `Bearer ${key}` },
      })
    for (let i = 0; i < 8; i++) expect((await call()).status).toBe(404)
    const refused = await call()
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    await expectV1Error(refused, 429, 'rate_limit_exceeded')
  })
})

describe('concurrent streams per user', () => {
  it('tRPC subscriptions: the third is refused with too_many_streams; a slot frees when one ends', async () => {
    const key = await newKey('streamer')
    using client = connect(server, 'ws', key)
    const conversation = await client.conversations.create.mutate({ title: 's' })
    const started = await client.chat.send.mutate({
      requestId: randomUUID(),
      conversationId: conversation.id,
      input: 'long',
    })
    const open = [0, 1].map(() =>
      client.chat.watch.subscribe({ turnId: started.turn.id }, { onData: () => {}, onError: () => {} }),
    )
    await sleep(200)
    const refused = await collect((h) => client.chat.watch.subscribe({ turnId: started.turn.id }, h)).then(
      () => null,
      (caught: unknown) => caught,
    )
    expect(isParleyClientError(refused) && refused.reason).toBe('too_many_streams')
    expect(isParleyClientError(refused) && refused.status).toBe(429)
    open[0]?.unsubscribe()
    await sleep(200)
    const events = await collect((h) => client.chat.watch.subscribe({ turnId: started.turn.id }, h))
    expect(events.at(-1)?.type).toBe('turn.completed')
    open[1]?.unsubscribe()
  })

  it('/v1 streams: the third concurrent one answers 429 too_many_streams', async () => {
    const key = await newKey('v1-streamer')
    const controllers = [new AbortController(), new AbortController()]
    const post = (signal?: AbortSignal) =>
      fetch(`${server.url}/v1/responses`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ input: 'long', stream: true }),
        ...(signal ? { signal } : {}),
      })
    const open = await Promise.all(controllers.map((controller) => post(controller.signal)))
    for (const response of open) expect(response.status).toBe(200)
    const refused = await post()
    expect(refused.headers.get('retry-after')).toBe('1')
    await expectV1Error(refused, 429, 'too_many_streams')
    // A response asked for without streaming holds a slot until it ends too, and is told so.
    const waiting = await fetch(`${server.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'long' }),
    })
    expect(waiting.status).toBe(429)
    expect(((await waiting.json()) as { error: { message: string } }).error.message).toMatch(
      /\/v1 responses until they end, streamed or not/,
    )
    for (const controller of controllers) controller.abort()
    // Closed connections give their slots back.
    const again = await eventually(
      async () => {
        const response = await post()
        await response.body?.cancel()
        return response.status
      },
      (status) => status === 200,
      5_000,
    )
    expect(again).toBe(200)
  })
})

describe('request size limits on every transport', () => {
  const big = 'x'.repeat(MAX_BODY + 1)

  it('tRPC over HTTP: 413 payload_too_large', async () => {
    const key = await newKey('big-trpc')
    const response = await fetch(`${server.url}/trpc/conversations.create`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: big }),
    })
    expect(response.status).toBe(413)
    const body = (await response.json()) as { error: { reason?: string; data?: { reason?: string } } }
    expect(body.error.reason ?? body.error.data?.reason).toBe('payload_too_large')
  })

  it('/v1 by Content-Length and chunked: 413 with the OpenAI error shape', async () => {
    const key = await newKey('big-v1')
    const declared = await fetch(`${server.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ input: big }),
    })
    await expectV1Error(declared, 413, 'payload_too_large')
    // No Content-Length: the body is counted as it arrives (2 MiB is /v1's own ceiling).
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${server.url}/v1/responses`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      })
      req.on('response', (res) => {
        let body = ''
        res.on('data', (chunk) => (body += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      })
      req.on('error', reject)
      const chunk = 'y'.repeat(256 * 1024)
      req.write('{"input":"')
      for (let i = 0; i < 10; i++) req.write(chunk)
      req.end('"}')
    })
    expect(chunked.status).toBe(413)
    expect(JSON.parse(chunked.body)).toMatchObject({ error: { code: 'payload_too_large', param: null } })
  })

  it('WebSocket: a message over maxPayload closes the socket with 1009', async () => {
    const key = await newKey('big-ws')
    const socket = new WebSocket(`${server.url.replace('http', 'ws')}/trpc`, {
      headers: { authorization: `Bearer ${key}` },
    })
    await new Promise((resolve) => socket.once('open', resolve))
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
    socket.send(
      JSON.stringify({
        id: 1,
        method: 'mutation',
        params: { path: 'conversations.create', input: { title: big } },
      }),
    )
    expect(await closed).toBe(1009)
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200)
  })

  it('SSE subscription input beyond the request line limit: 431 payload_too_large', async () => {
    const key = await newKey('big-sse')
    const input = encodeURIComponent(JSON.stringify({ turnId: 'x'.repeat(20_000) }))
    const response = await fetch(`${server.url}/trpc/chat.watch?input=${input}`, {
      headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' },
    })
    expect(response.status).toBe(431)
    expect(await response.json()).toMatchObject({ error: { reason: 'payload_too_large' } })
  })
})

describe('/v1 while draining', () => {
  it('answers 503 with the OpenAI error shape on a connection that outlived close()', async () => {
    const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ')
    const model = new ScriptedModel({
      steps: (req) =>
        JSON.stringify(req.input).includes('long')
          ? textStep(words(60), { delayMs: 40 })
          : textStep(words(8), { delayMs: 25 }),
    })
    const draining = await startServer({}, { provider: model })
    using client = connect(draining, 'sse')
    const first = await client.conversations.create.mutate({ title: 'long' })
    const second = await client.conversations.create.mutate({ title: 'short' })
    // A long turn keeps shutdown waiting; a short one ends while it waits.
    await client.chat.send.mutate({ requestId: randomUUID(), conversationId: first.id, input: 'long' })
    const short = await client.chat.send.mutate({
      requestId: randomUUID(),
      conversationId: second.id,
      input: 'short',
    })
    const { port } = new URL(draining.url)
    const socket = connectTcp(Number(port), '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    let raw = ''
    socket.on('data', (chunk) => (raw += chunk))
    const body = JSON.stringify({ input: 'x' })
    socket.write(`GET /v1/responses/${short.turn.id}?stream=true HTTP/1.1\r\nHost: x\r\n\r\n`)
    await eventually(
      async () => raw,
      (text) => text.includes('response.in_progress'),
      10_000,
      10,
    )
    // The connection is busy streaming, so close() keeps it; the next request on it arrives
    // while the server drains (the long turn holds shutdown open).
    const closing = draining.close()
    await eventually(
      async () => raw,
      (text) => text.includes('data: [DONE]'),
      10_000,
      10,
    )
    socket.write(
      `POST /v1/responses HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    )
    await eventually(
      async () => raw,
      (text) => text.includes('HTTP/1.1 503'),
      10_000,
      20,
    )
    const refusal = raw.slice(raw.indexOf('HTTP/1.1 503'))
    expect(refusal.toLowerCase()).toContain('retry-after: 1')
    const json = JSON.parse(refusal.slice(refusal.indexOf('{'), refusal.lastIndexOf('}') + 1)) as unknown
    expect(json).toEqual({
      error: { message: expect.any(String), type: 'server_error', param: null, code: 'unavailable' },
    })
    socket.destroy()
    await closing
  })
})
