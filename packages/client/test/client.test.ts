import type { AddressInfo } from 'node:net'
import { TRPCClientError } from '@trpc/client'
import { initTRPC, tracked } from '@trpc/server'
import { createHTTPServer } from '@trpc/server/adapters/standalone'
import { applyWSSHandler } from '@trpc/server/adapters/ws'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { WebSocketServer } from 'ws'
import {
  createParleyClient,
  type ParleyClient,
  ParleyClientError,
  streamTurn,
  toParleyClientError,
} from '../src/node.ts'

/**
 * A stand-in server with the one procedure `streamTurn` uses. Its first stream ends early
 * (like an instance going away) and its second repeats two events the client already has.
 */
const TURN = 'resp_clienttest0001'
const t = initTRPC.create()
const subscriptions: Array<{ lastEventId: string | null }> = []

function event(seq: number) {
  const type = seq === 10 ? 'turn.completed' : 'text.delta'
  return { id: `${TURN}:${seq}`, turnId: TURN, seq, type, itemId: 'item_x', delta: `d${seq} ` }
}

const router = t.router({
  chat: t.router({
    stream: t.procedure
      .input((raw) => raw as { requestId: string; lastEventId?: string | null })
      .subscription(async function* ({ input }) {
        subscriptions.push({ lastEventId: input.lastEventId ?? null })
        const after = input.lastEventId ? Number(input.lastEventId.split(':')[1]) : 0
        if (subscriptions.length === 1) {
          for (let seq = after + 1; seq <= 4; seq++) yield tracked(`${TURN}:${seq}`, event(seq))
          return
        }
        for (let seq = Math.max(1, after - 1); seq <= 10; seq++) yield tracked(`${TURN}:${seq}`, event(seq))
      }),
  }),
  failing: t.procedure.query(() => {
    throw new Error('boom')
  }),
  health: t.router({ check: t.procedure.query(() => ({ ok: true })) }),
  ticks: t.procedure.subscription(async function* () {
    yield 'tick'
  }),
})

/** The stand-in router over HTTP, WebSocket and SSE on a free port. */
async function standIn(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createHTTPServer({ router, basePath: '/trpc/' })
  const wss = new WebSocketServer({ server, path: '/trpc' })
  applyWSSHandler({ wss, router })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      for (const client of wss.clients) client.terminate()
      wss.close()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

describe.each(['ws', 'sse'] as const)('streamTurn (%s)', (transport) => {
  let server: Awaited<ReturnType<typeof standIn>>
  let url: string

  beforeAll(async () => {
    server = await standIn()
    url = server.url
  })
  afterAll(() => server.close())

  it('resubscribes after an early end with the last seen id and drops what it already has', async () => {
    subscriptions.length = 0
    // The stand-in router only has what this test needs; the helper only touches chat.stream.
    const client = createParleyClient({ url, transport }) as ParleyClient
    try {
      const seen: number[] = []
      const result = await streamTurn(
        client,
        { requestId: 'r1', conversationId: 'conv_clienttest0001', input: 'hi' },
        { onEvent: (e) => seen.push(e.seq) },
      )
      expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      expect(result).toMatchObject({ turnId: TURN, lastEventId: `${TURN}:10` })
      expect(subscriptions.map((s) => s.lastEventId)).toEqual([null, `${TURN}:4`])
    } finally {
      client.close()
    }
  })
})

describe('the client links', () => {
  let server: Awaited<ReturnType<typeof standIn>>
  beforeAll(async () => {
    server = await standIn()
  })
  afterAll(() => server.close())

  it('send a subscription (WebSocket) and a batched query (HTTP) on the next turn of the event loop, not after a timer', async () => {
    // tRPC's wsLink and httpBatchLink gather the requests of one tick by waiting before they
    // send; unpatched they wait for a timer (`setTimeout(0)`, at least 1 ms in Node, on every
    // request). With timers stopped, such a request would never leave.
    const client = createParleyClient({ url: server.url, transport: 'ws' })
    // The stand-in router has procedures the real one does not.
    const standInClient = client as unknown as {
      ticks: { subscribe(input: undefined, handlers: { onData(value: string): void }): unknown }
    }
    const tick = () =>
      new Promise<string>((resolve) => standInClient.ticks.subscribe(undefined, { onData: resolve }))
    try {
      expect(await tick()).toBe('tick')
      vi.useFakeTimers({ toFake: ['setTimeout'] })
      const [ticked, checks] = await Promise.all([
        tick(),
        Promise.all([client.health.check.query(), client.health.check.query()]),
      ])
      expect(ticked).toBe('tick')
      expect(checks).toEqual([{ ok: true }, { ok: true }])
    } finally {
      vi.useRealTimers()
      client.close()
    }
  })
})

describe('ParleyClientError', () => {
  it('carries the server reason, issues and retry hint', () => {
    const error = toParleyClientError(
      TRPCClientError.from({
        error: {
          message: 'Invalid input: title: too long',
          code: -32600,
          data: {
            code: 'BAD_REQUEST',
            httpStatus: 400,
            reason: 'validation',
            issues: [{ path: 'title', message: 'too long' }],
          },
        },
      }),
    )
    expect(error).toBeInstanceOf(ParleyClientError)
    expect(error).toBeInstanceOf(TRPCClientError)
    expect(error).toMatchObject({
      reason: 'validation',
      status: 400,
      issues: [{ path: 'title', message: 'too long' }],
    })

    const limited = toParleyClientError(
      TRPCClientError.from({
        error: {
          message: 'slow down',
          code: -32029,
          data: { code: 'TOO_MANY_REQUESTS', httpStatus: 429, reason: 'rate_limited', retryAfterMs: 1500 },
        },
      }),
    )
    expect(limited).toMatchObject({ reason: 'rate_limited', retryAfterMs: 1500 })
  })

  it('names an unreachable server a network error', async () => {
    const client = createParleyClient({ url: 'http://127.0.0.1:9', transport: 'sse' })
    const error = await client.health.check.query().catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ParleyClientError)
    expect(error).toMatchObject({ reason: 'network', status: 0 })
  })
})
