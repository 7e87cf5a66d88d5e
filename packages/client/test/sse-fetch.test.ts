import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { reusingSseFetch } from '../src/sse-fetch.ts'

/**
 * A stand-in SSE server: `/ends` writes a message and ends the response a moment later (as a
 * subscription that returns does), `/open` writes a message and never ends.
 */
describe('the SSE transport fetch', () => {
  let server: Server
  let url: string
  let connections = 0
  const open: ServerResponse[] = []
  const closedAt: number[] = []

  beforeAll(async () => {
    server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write('event: return\ndata: \n\n')
      if (req.url === '/ends') setTimeout(() => res.end(), 20)
      else {
        open.push(res)
        res.once('close', () => closedAt.push(performance.now()))
      }
    })
    server.on('connection', () => {
      connections += 1
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    for (const res of open) res.destroy()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  /** Reads the first chunk, then aborts as an EventSource that was closed does. */
  async function readThenAbort(path: string, fetcher: typeof fetch): Promise<unknown> {
    const controller = new AbortController()
    const response = await fetcher(`${url}${path}`, { signal: controller.signal })
    const reader = response.body?.getReader()
    const first = await reader?.read()
    expect(new TextDecoder().decode(first?.value)).toContain('event: return')
    const next = reader?.read()
    controller.abort()
    return next?.then(
      () => 'resolved',
      (error: unknown) => error,
    )
  }

  it('stops the reader at once, and keeps the connection of a response that ends', async () => {
    const fetcher = reusingSseFetch((input, init) => fetch(input, init))
    const before = connections
    for (let i = 0; i < 3; i++) {
      const outcome = await readThenAbort('/ends', fetcher)
      expect(outcome).toMatchObject({ name: 'AbortError' })
      // The response ends 20 ms after its message: by then its connection is free again.
      await new Promise((resolve) => setTimeout(resolve, 60))
    }
    expect(connections - before).toBe(1)
  })

  it('without it, every aborted subscription costs a connection', async () => {
    const before = connections
    for (let i = 0; i < 3; i++) {
      await readThenAbort('/ends', (input, init) => fetch(input, init))
      await new Promise((resolve) => setTimeout(resolve, 60))
    }
    expect(connections - before).toBe(3)
  })

  it('drops the connection of a response that does not end within the drain time', async () => {
    const fetcher = reusingSseFetch((input, init) => fetch(input, init), 100)
    const abortedAt = performance.now()
    const outcome = await readThenAbort('/open', fetcher)
    expect(outcome).toMatchObject({ name: 'AbortError' })
    const deadline = Date.now() + 5_000
    while (closedAt.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    expect(closedAt).toHaveLength(1)
    expect((closedAt[0] ?? 0) - abortedAt).toBeGreaterThanOrEqual(90)
  })

  it('aborts a request whose signal fires before the response, and refuses an aborted signal', async () => {
    const fetcher = reusingSseFetch((input, init) => fetch(input, init))
    const controller = new AbortController()
    const pending = fetcher(`${url}/ends`, { signal: controller.signal })
    controller.abort()
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' })
    await expect(fetcher(`${url}/ends`, { signal: controller.signal })).rejects.toMatchObject({
      name: 'AbortError',
    })
  })
})
