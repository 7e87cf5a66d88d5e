import { randomUUID } from 'node:crypto'
import type { TurnEvent } from '@parley/core'
import { createProvider } from '@parley/providers'
import { type FakeUpstream, type Fault, startFakeUpstream } from '@parley/providers/fake-upstream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, startServer, type TestServer } from '../helpers.ts'
import { outputText, streamOnce } from './support.ts'

const TEXT = 'alpha beta gamma delta epsilon zeta'
const UPSTREAM_KEY = 'sk-upstream-fault-test-0123456789'

interface Case {
  name: string
  scripts: Array<{ fault?: Fault; text?: string; delayMs?: number }>
  /** Upstream calls the turn may cause. */
  calls: number
  status: 'completed' | 'failed'
  reason?: string
  /** Text the stored turn holds. */
  text: string
}

// Each fault ends as DESIGN.md says: retried before the first token, never after dispatch.
const CASES: Case[] = [
  {
    name: '429 with Retry-After is retried once the wait is over',
    scripts: [{ fault: { type: 'http_error', status: 429, retryAfterMs: 50 } }, { text: TEXT }],
    calls: 2,
    status: 'completed',
    text: TEXT,
  },
  {
    name: '500 then success',
    scripts: [{ fault: { type: 'http_error', status: 500 } }, { text: TEXT }],
    calls: 2,
    status: 'completed',
    text: TEXT,
  },
  {
    name: '503 on every attempt fails after the retry budget',
    scripts: Array.from({ length: 4 }, () => ({ fault: { type: 'http_error', status: 503 } as Fault })),
    calls: 4,
    status: 'failed',
    reason: 'upstream_unavailable',
    text: '',
  },
  {
    name: 'a timeout (no answer at all) is retried',
    scripts: [{ fault: { type: 'stall' } }, { text: TEXT }],
    calls: 2,
    status: 'completed',
    text: TEXT,
  },
  {
    name: 'connection reset before the first token is retried',
    scripts: [{ fault: { type: 'reset' } }, { text: TEXT }],
    calls: 2,
    status: 'completed',
    text: TEXT,
  },
  {
    name: 'connection reset after the first tokens keeps the partial output, no second call',
    scripts: [{ text: TEXT, fault: { type: 'reset_after', deltas: 3 } }],
    calls: 1,
    status: 'failed',
    reason: 'stream_broken',
    text: 'alpha beta gamma',
  },
  {
    name: 'malformed SSE after the first tokens keeps the partial output, no second call',
    scripts: [{ text: TEXT, fault: { type: 'malformed_after', deltas: 2 } }],
    calls: 1,
    status: 'failed',
    reason: 'stream_broken',
    text: 'alpha beta',
  },
  {
    name: 'a drip that goes silent times out with its partial output, no second call',
    scripts: [{ text: TEXT, fault: { type: 'stall_after', deltas: 2 } }],
    calls: 1,
    status: 'failed',
    reason: 'upstream_timeout',
    text: 'alpha beta',
  },
  {
    name: 'a slow drip below the idle timeout completes',
    scripts: [{ text: TEXT, delayMs: 80 }],
    calls: 1,
    status: 'completed',
    text: TEXT,
  },
]

describe.each(['openai-chat', 'openai-responses'] as const)('upstream faults through %s', (kind) => {
  let upstream: FakeUpstream
  let server: TestServer
  let client: ReturnType<typeof connect>

  beforeAll(async () => {
    upstream = await startFakeUpstream({ apiKey: UPSTREAM_KEY })
    const provider = createProvider({
      kind,
      apiKey: UPSTREAM_KEY,
      baseURL: upstream.url,
      timeoutMs: 1_000,
      idleTimeoutMs: 400,
      retry: { baseDelayMs: 10, maxDelayMs: 50 },
    })
    server = await startServer({}, { provider })
    client = connect(server, 'ws')
  })
  afterAll(async () => {
    client.close()
    await server.close()
    await upstream.stop()
  })

  const endpoint = kind === 'openai-chat' ? 'chat.completions' : 'responses'

  it.each(CASES)('$name', async (fault) => {
    const conversation = await client.conversations.create.mutate({ title: fault.name })
    const before = upstream.callCount(endpoint)
    upstream.enqueue(...fault.scripts)
    const requestId = randomUUID()
    const events = await streamOnce(client, { requestId, conversationId: conversation.id, input: 'go' })
    const terminal = events.at(-1) as TurnEvent
    expect(terminal.type).toBe(`turn.${fault.status}`)
    if (terminal.type === 'turn.failed') {
      // A typed error: a stable reason and a message with no key and no upstream body.
      expect(terminal.error.reason).toBe(fault.reason)
      expect(JSON.stringify(terminal.error)).not.toContain(UPSTREAM_KEY)
    }
    expect(upstream.callCount(endpoint) - before).toBe(fault.calls)

    const stored = await client.chat.turn.query({ turnId: terminal.turnId })
    expect(stored.turn.status).toBe(fault.status)
    expect(outputText(stored.output).trim()).toBe(fault.text)
    if (fault.status === 'failed') expect(stored.turn.error?.reason).toBe(fault.reason)

    // A retry of the same request id replays what is stored; the upstream is not called again.
    const replay = await streamOnce(client, { requestId, conversationId: conversation.id, input: 'go' })
    expect(replay.at(-1)?.type).toBe(`turn.${fault.status}`)
    expect(upstream.callCount(endpoint) - before).toBe(fault.calls)

    // The server is still healthy and the conversation takes a following turn.
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200)
    const next = await streamOnce(client, {
      requestId: randomUUID(),
      conversationId: conversation.id,
      input: 'again',
    })
    expect(next.at(-1)?.type).toBe('turn.completed')
  })
})
