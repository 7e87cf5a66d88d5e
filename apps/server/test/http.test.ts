import { randomUUID } from 'node:crypto'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { collect, connect, startServer, type TestServer } from './helpers.ts'

describe('HTTP surface', () => {
  let server: TestServer
  let webRoot: string

  beforeAll(async () => {
    webRoot = mkdtempSync(join(tmpdir(), 'parley-web-'))
    mkdirSync(join(webRoot, 'assets'))
    writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>Parley</title>')
    writeFileSync(join(webRoot, 'assets', 'app.js'), 'console.log(1)')
    server = await startServer({ webRoot, maxBodyBytes: 64 * 1024 })
  })
  afterAll(() => server.close())

  it('/healthz and /readyz', async () => {
    const health = await fetch(`${server.url}/healthz`)
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ status: 'ok' })
    const ready = await fetch(`${server.url}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toEqual({ status: 'ready' })
  })

  it('/metrics counts turns, provider timings, streams and connections', async () => {
    using client = connect(server, 'ws')
    const conversation = await client.conversations.create.mutate({})
    await collect((h) =>
      client.chat.stream.subscribe(
        { requestId: randomUUID(), conversationId: conversation.id, input: 'hi' },
        h,
      ),
    )
    const text = await (await fetch(`${server.url}/metrics`)).text()
    expect(text).toContain('parley_turns_total{status="completed"} 1')
    expect(text).toContain('parley_turns_started_total 1')
    expect(text).toContain('parley_provider_call_seconds_count{outcome="ok"} 1')
    expect(text).toContain('parley_time_to_first_token_seconds_count 1')
    expect(text).toMatch(/parley_websocket_connections 1/)
    expect(text).toContain('parley_active_streams 0')
    expect(text).toContain('parley_database_ready 1')
  })

  it('answers every request with a request id, echoing a sane incoming one', async () => {
    const mine = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'trace-123' } })
    expect(mine.headers.get('x-request-id')).toBe('trace-123')
    const minted = await fetch(`${server.url}/healthz`, {
      headers: { 'x-request-id': 'bad id\twith spaces' },
    })
    expect(minted.headers.get('x-request-id')).toMatch(/^req_/)
  })

  it('refuses bodies over the limit with 413 on HTTP and closes oversize WebSocket messages', async () => {
    const big = JSON.stringify({ title: 'x'.repeat(100 * 1024) })
    const response = await fetch(`${server.url}/trpc/conversations.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: big,
    })
    expect(response.status).toBe(413)
    // In tRPC's error shape, like every other /trpc error, so the typed client reads its reason.
    expect(await response.json()).toMatchObject({
      error: { data: { code: 'PAYLOAD_TOO_LARGE', httpStatus: 413, reason: 'payload_too_large' } },
    })

    const socket = new WebSocket(`${server.url.replace('http', 'ws')}/trpc`)
    await new Promise((resolve) => socket.once('open', resolve))
    const code = await new Promise<number>((resolve) => {
      socket.once('close', (closeCode) => resolve(closeCode))
      socket.send(big)
    })
    expect(code).toBe(1009)
  })

  it('tRPC errors are typed and leak nothing: malformed JSON, unknown procedures', async () => {
    const malformed = await fetch(`${server.url}/trpc/conversations.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"title":',
    })
    expect(malformed.status).toBe(400)
    const body = await malformed.text()
    expect(body).toContain('"reason":"validation"')
    expect(body).not.toMatch(/stack|node_modules|\.ts:/)

    const unknown = await fetch(`${server.url}/trpc/nope.nothing`)
    expect(unknown.status).toBe(404)
    expect(await unknown.text()).toContain('"reason":"not_found"')

    // A query sent as POST, a mutation as GET: the method is wrong, nothing failed inside.
    for (const [method, path] of [
      ['POST', 'conversations.list'],
      ['GET', 'chat.send'],
      ['PUT', 'conversations.list'],
    ]) {
      const wrong = await fetch(`${server.url}/trpc/${path}`, {
        method,
        ...(method === 'GET' ? {} : { body: '{}', headers: { 'content-type': 'application/json' } }),
      })
      expect(wrong.status, `${method} ${path}`).toBe(405)
      expect(await wrong.json()).toMatchObject({
        error: { data: { reason: 'method_not_allowed', httpStatus: 405 } },
      })
    }
  })

  it('serves the web app with an index.html fallback for client routes, and nothing outside it', async () => {
    const index = await fetch(`${server.url}/`)
    expect(index.headers.get('content-type')).toContain('text/html')
    expect(await index.text()).toContain('<title>Parley</title>')
    expect(await (await fetch(`${server.url}/c/conv_123`)).text()).toContain('<title>Parley</title>')
    const asset = await fetch(`${server.url}/assets/app.js`)
    expect(asset.headers.get('content-type')).toContain('text/javascript')
    expect(asset.headers.get('cache-control')).toContain('immutable')
    expect((await fetch(`${server.url}/assets/missing.js`)).status).toBe(404)
    const traversal = await fetch(`${server.url}/..%2f..%2f..%2f..%2fetc%2fpasswd`)
    expect(await traversal.text()).not.toContain('root:')
    expect((await fetch(`${server.url}/trpc`)).status).toBe(404)
  })

  it('refuses WebSocket upgrades outside /trpc', async () => {
    const socket = new WebSocket(`${server.url.replace('http', 'ws')}/elsewhere`)
    const failed = await new Promise<boolean>((resolve) => {
      socket.once('open', () => resolve(false))
      socket.once('error', () => resolve(true))
    })
    expect(failed).toBe(true)
  })
})
