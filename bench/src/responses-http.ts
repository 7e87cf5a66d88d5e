import { performance } from 'node:perf_hooks'
import { Agent, request } from 'undici'
import { readSse } from './sse.ts'

/** The model every path asks for: a long context window, so that no path truncates history. */
export const MODEL = 'gpt-4.1-mini'

/** One connection pool for all load: unlimited connections per origin, kept alive. */
export const dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: null, pipelining: 1 })

export interface StreamTiming {
  /** From sending the request to the first text delta. */
  ttftMs: number
  /** From sending the request to the end of the stream. */
  totalMs: number
  deltas: number
  /** Mean time between consecutive deltas ((last − first) / (n − 1)); 0 with one delta. */
  perDeltaMs: number
}

/** Times of the text deltas of one stream, relative to its start. */
export function timingOf(startedAt: number, deltaTimes: number[], endedAt: number): StreamTiming {
  const first = deltaTimes[0]
  const last = deltaTimes[deltaTimes.length - 1]
  if (first === undefined || last === undefined) throw new Error('the stream carried no text delta')
  return {
    ttftMs: first - startedAt,
    totalMs: endedAt - startedAt,
    deltas: deltaTimes.length,
    perDeltaMs: deltaTimes.length > 1 ? (last - first) / (deltaTimes.length - 1) : 0,
  }
}

export class HttpError extends Error {
  override readonly name = 'HttpError'
  constructor(
    readonly status: number,
    body: string,
  ) {
    super(`HTTP ${status}: ${body.slice(0, 160)}`)
  }
}

/**
 * A Responses API endpoint (`POST {base}/responses`): the fake upstream itself, the peer gateway
 * in front of it, or Parley's `/v1`. The same requests go to each, so the figures compare.
 */
export class ResponsesEndpoint {
  constructor(
    /** Base URL ending in `/v1`. */
    readonly base: string,
    readonly headers: Record<string, string> = {},
  ) {}

  /** A non-streamed response; resolves with its parsed body. */
  async create(
    body: Record<string, unknown>,
    extraHeaders: Record<string, string> = {},
  ): Promise<ResponseBody> {
    const response = await request(`${this.base}/responses`, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json', ...this.headers, ...extraHeaders },
      body: JSON.stringify(body),
    })
    const text = await response.body.text()
    if (response.statusCode !== 200) throw new HttpError(response.statusCode, text)
    return JSON.parse(text) as ResponseBody
  }

  /** A streamed response, read to `response.completed`, with the arrival time of every delta. */
  async stream(
    body: Record<string, unknown>,
    extraHeaders: Record<string, string> = {},
  ): Promise<StreamTiming> {
    const startedAt = performance.now()
    const response = await request(`${this.base}/responses`, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json', ...this.headers, ...extraHeaders },
      body: JSON.stringify({ ...body, stream: true }),
    })
    if (response.statusCode !== 200) throw new HttpError(response.statusCode, await response.body.text())
    const deltaTimes: number[] = []
    let completed = false
    for await (const event of readSse(response.body)) {
      const type = eventType(event.event, event.data)
      if (type === 'response.output_text.delta') deltaTimes.push(performance.now())
      else if (type === 'response.completed') completed = true
      else if (type === 'response.failed' || type === 'error')
        throw new Error(`stream failed: ${event.data.slice(0, 160)}`)
    }
    if (!completed) throw new Error('the stream ended without response.completed')
    return timingOf(startedAt, deltaTimes, performance.now())
  }
}

/** The `event:` name, or the JSON's `type` when a server sends bare `data:` lines. */
function eventType(event: string, data: string): string {
  if (event !== 'message') return event
  const match = /"type"\s*:\s*"([^"]+)"/.exec(data)
  return match?.[1] ?? event
}

export interface ResponseBody {
  id: string
  status: string
  output?: { type: string; content?: { type: string; text?: string }[] }[]
}

/** Responses API input items for a conversation of `turns` user/assistant pairs, then one question. */
export function historyItems(pairs: number, question = 'And what comes next?'): Record<string, unknown>[] {
  const items: Record<string, unknown>[] = []
  for (let i = 0; i < pairs; i++) {
    items.push({
      type: 'message',
      role: 'user',
      content: [{ type: 'input_text', text: `Question ${i}: what is ${i} + ${i}?` }],
    })
    items.push({
      type: 'message',
      role: 'assistant',
      content: [{ type: 'output_text', text: `${i} + ${i} = ${2 * i}. Anything else?` }],
    })
  }
  items.push({ type: 'message', role: 'user', content: [{ type: 'input_text', text: question }] })
  return items
}
