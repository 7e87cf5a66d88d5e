import { once } from 'node:events'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHttpFetch } from '../src/openai/http-fetch.ts'

/** The adapters' `fetch`, against a real HTTP server: what the SDK relies on. */

let server: http.Server
let base: string
const seen: { method: string; path: string; headers: IncomingMessage['headers']; body: string }[] = []

function route(request: IncomingMessage, response: ServerResponse, body: string): void {
  seen.push({ method: request.method ?? '', path: request.url ?? '', headers: request.headers, body })
  if (request.url === '/echo') {
    response.writeHead(201, { 'content-type': 'application/json', 'x-request-id': 'req_1' })
    response.end(JSON.stringify({ body, length: request.headers['content-length'] ?? null }))
  } else if (request.url === '/empty') {
    response.writeHead(204).end()
  } else if (request.url === '/moved') {
    response.writeHead(307, { location: '/echo' }).end()
  } else if (request.url === '/cut') {
    response.writeHead(200, { 'content-type': 'text/event-stream' })
    response.write('data: one\n\n')
    setTimeout(() => response.destroy(), 20)
  } else if (request.url === '/slow') {
    response.writeHead(200, { 'content-type': 'text/event-stream' })
    response.write('data: one\n\n')
  } else {
    response.writeHead(404).end()
  }
}

beforeAll(async () => {
  server = http.createServer((request, response) => {
    let body = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => {
      body += chunk
    })
    request.on('end', () => route(request, response, body))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  server.close()
})

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder()
  let text = ''
  for await (const chunk of stream) text += decoder.decode(chunk, { stream: true })
  return text
}

describe('the adapters’ fetch', () => {
  const fetcher = createHttpFetch()

  it('sends the method, headers and a string body with its length, and returns status and headers', async () => {
    const response = await fetcher(`${base}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
      body: '{"a":"é"}',
    })
    expect(response.status).toBe(201)
    expect(response.headers.get('x-request-id')).toBe('req_1')
    expect(await response.json()).toEqual({ body: '{"a":"é"}', length: '10' })
    expect(seen.at(-1)?.headers.authorization).toBe('Bearer k')
  })

  it('sends a byte body', async () => {
    const response = await fetcher(`${base}/echo`, { method: 'PUT', body: new TextEncoder().encode('bytes') })
    expect(await response.json()).toEqual({ body: 'bytes', length: '5' })
    expect(seen.at(-1)?.method).toBe('PUT')
  })

  it('answers a bodiless status with a null body', async () => {
    const response = await fetcher(`${base}/empty`)
    expect(response.status).toBe(204)
    expect(response.body).toBeNull()
  })

  it('follows a redirect', async () => {
    const response = await fetcher(`${base}/moved`, { method: 'POST', body: 'again' })
    expect(response.status).toBe(201)
    expect(await response.json()).toEqual({ body: 'again', length: '5' })
  })

  it('errors the body with a TypeError when the server hangs up mid-body', async () => {
    const response = await fetcher(`${base}/cut`)
    await expect(readAll(response.body as ReadableStream<Uint8Array>)).rejects.toThrow(TypeError)
  })

  it('errors the body with an AbortError when the signal fires mid-body', async () => {
    const controller = new AbortController()
    const response = await fetcher(`${base}/slow`, { signal: controller.signal })
    const reading = readAll(response.body as ReadableStream<Uint8Array>)
    setTimeout(() => controller.abort(), 20)
    await expect(reading).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('rejects when the server cannot be reached', async () => {
    const closed = http.createServer()
    closed.listen(0, '127.0.0.1')
    await once(closed, 'listening')
    const port = (closed.address() as AddressInfo).port
    closed.close()
    await once(closed, 'close')
    await expect(fetcher(`http://127.0.0.1:${port}/echo`)).rejects.toMatchObject({ code: 'ECONNREFUSED' })
  })
})
