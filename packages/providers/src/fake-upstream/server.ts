import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Fault, RecordedCall, UpstreamEndpoint, UpstreamHandler, UpstreamScript } from './script.ts'
import {
  type ChatContext,
  chatCompletionObject,
  chatFrames,
  type Frame,
  newId,
  openAIErrorBody,
  planReply,
  type ResponsesContext,
  responsesFrames,
} from './wire.ts'

export interface FakeUpstreamOptions {
  port?: number
  host?: string
  /** Words of the default reply (default 20). */
  tokens?: number
  /** Default pause before every delta (default 0). */
  delayMs?: number
  /** When set, requests must carry `Authorization: Bearer <apiKey>` (else 401). */
  apiKey?: string
  /** Scripts for requests the queue does not cover. */
  handler?: UpstreamHandler
  /** How many recent calls `calls` keeps (default 500); `callCount` counts them all. */
  keepCalls?: number
  /** Stored responses kept for previous_response_id (default 10000, oldest dropped first). */
  keepResponses?: number
}

export interface FakeUpstream {
  /** Base URL for an OpenAI client, e.g. `http://127.0.0.1:4010/v1`. */
  readonly url: string
  readonly port: number
  /** Recent calls, oldest first. */
  readonly calls: readonly RecordedCall[]
  /** Calls received since start (or the last reset), optionally for one endpoint. */
  callCount(endpoint?: UpstreamEndpoint): number
  lastCall(endpoint?: UpstreamEndpoint): RecordedCall | undefined
  /** Scripts for the next requests (any endpoint), in order. */
  enqueue(...scripts: UpstreamScript[]): void
  setHandler(handler: UpstreamHandler | undefined): void
  /** Drop stored responses, as if the upstream lost its state. */
  forgetResponses(): void
  storedResponseIds(): string[]
  /** Clears queue, calls, counts and stored responses. */
  reset(): void
  stop(): Promise<void>
}

interface StoredResponse {
  response: Record<string, unknown>
  /** Input items of the whole chain up to and including this response's output. */
  context: unknown[]
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** A real HTTP server that speaks the OpenAI wire format, scriptable per request. */
export async function startFakeUpstream(options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const tokens = options.tokens ?? 20
  const defaultDelayMs = options.delayMs ?? 0
  const keepCalls = options.keepCalls ?? 500
  const keepResponses = options.keepResponses ?? 10_000
  const queue: UpstreamScript[] = []
  const calls: RecordedCall[] = []
  const counts = new Map<UpstreamEndpoint, number>()
  const stored = new Map<string, StoredResponse>()
  let handler = options.handler

  const record = (call: RecordedCall) => {
    calls.push(call)
    if (calls.length > keepCalls) calls.shift()
    counts.set(call.endpoint, (counts.get(call.endpoint) ?? 0) + 1)
  }

  const nextScript = (call: RecordedCall): UpstreamScript => queue.shift() ?? handler?.(call) ?? {}

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) sendError(res, 500, 'The fake upstream failed', 'server_error', null, null)
      else res.destroy()
    })
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake')
    const path = url.pathname.replace(/\/+$/, '')
    const method = req.method ?? 'GET'
    const raw = await readBody(req)

    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      sendError(res, 401, 'Incorrect API key provided.', 'invalid_request_error', null, 'invalid_api_key')
      return
    }

    const idMatch = /^\/v1\/responses\/([^/]+)$/.exec(path)
    if (idMatch && (method === 'GET' || method === 'DELETE')) {
      const id = decodeURIComponent(idMatch[1] ?? '')
      const endpoint = method === 'GET' ? 'responses.get' : 'responses.delete'
      record({ endpoint, method, path, body: null, headers: req.headers, at: Date.now() })
      const found = stored.get(id)
      if (!found) {
        sendError(res, 404, `Response with id '${id}' not found.`, 'invalid_request_error', null, null)
        return
      }
      if (method === 'DELETE') {
        stored.delete(id)
        sendJson(res, 200, { id, object: 'response', deleted: true })
      } else {
        sendJson(res, 200, found.response)
      }
      return
    }

    const isResponses = path === '/v1/responses' && method === 'POST'
    const isChat = path === '/v1/chat/completions' && method === 'POST'
    if (!isResponses && !isChat) {
      sendError(res, 404, `Unknown route ${method} ${path}`, 'invalid_request_error', null, 'unknown_url')
      return
    }

    let body: Record<string, unknown>
    try {
      const parsed: unknown = JSON.parse(raw)
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new SyntaxError('not an object')
      body = parsed as Record<string, unknown>
    } catch {
      sendError(
        res,
        400,
        'We could not parse the JSON body of your request.',
        'invalid_request_error',
        null,
        null,
      )
      return
    }

    if (isResponses) await handleResponses(req, res, path, body)
    else await handleChat(req, res, path, body)
  }

  async function handleResponses(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    body: Record<string, unknown>,
  ): Promise<void> {
    const previousId = typeof body['previous_response_id'] === 'string' ? body['previous_response_id'] : null
    const previous = previousId === null ? undefined : stored.get(previousId)
    const context = [...(previous?.context ?? []), ...inputItems(body['input'])]
    const call: RecordedCall = {
      endpoint: 'responses',
      method: 'POST',
      path,
      body,
      headers: req.headers,
      context,
      at: Date.now(),
    }
    record(call)
    // A lost previous response is the upstream's state, not a scripted reply: the queue is kept
    // (unless its next script is exactly this fault).
    const lost = previousId !== null && !previous
    const scriptedLoss = queue[0]?.fault?.type === 'unknown_previous_response'
    const script: UpstreamScript = lost && !scriptedLoss ? {} : nextScript(call)
    if (lost || script.fault?.type === 'unknown_previous_response') {
      const status = script.fault?.type === 'unknown_previous_response' ? (script.fault.status ?? 400) : 400
      const message = `Previous response with id '${previousId ?? ''}' not found.`
      // OpenAI answers 400 with a code; some compatible servers a bare 404.
      if (status === 404) sendError(res, 404, message, 'invalid_request_error', null, null)
      else
        sendError(
          res,
          400,
          message,
          'invalid_request_error',
          'previous_response_id',
          'previous_response_not_found',
        )
      return
    }
    if (await applyEarlyFault(req, res, script.fault)) return

    const plan = planReply(script, tokens, body)
    const ctx: ResponsesContext = { id: newId('resp_'), createdAt: Math.floor(Date.now() / 1000), body }
    const { frames, final } = responsesFrames(ctx, plan)
    if (body['store'] !== false && script.fault === undefined) {
      stored.set(ctx.id, {
        response: final,
        context: [...context, ...((final['output'] as unknown[]) ?? [])],
      })
      // A benchmark sends far more requests than anyone continues from: bound the memory.
      if (stored.size > keepResponses) {
        const oldest = stored.keys().next().value
        if (oldest !== undefined) stored.delete(oldest)
      }
    }
    if (body['stream'] === true) await streamFrames(req, res, frames, script, defaultDelayMs)
    else await sendWhole(req, res, JSON.stringify(final), script)
  }

  async function handleChat(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    body: Record<string, unknown>,
  ): Promise<void> {
    const call: RecordedCall = {
      endpoint: 'chat.completions',
      method: 'POST',
      path,
      body,
      headers: req.headers,
      at: Date.now(),
    }
    record(call)
    const script = nextScript(call)
    if (script.fault?.type === 'unknown_previous_response') {
      sendError(
        res,
        400,
        'Unrecognized request argument supplied: previous_response_id',
        'invalid_request_error',
        null,
        null,
      )
      return
    }
    if (await applyEarlyFault(req, res, script.fault)) return
    const plan = planReply(script, tokens, body)
    const streamOptions = body['stream_options'] as { include_usage?: unknown } | undefined
    const ctx: ChatContext = {
      id: newId('chatcmpl-', 14),
      created: Math.floor(Date.now() / 1000),
      model: typeof body['model'] === 'string' ? body['model'] : 'unknown',
      includeUsage: streamOptions?.include_usage === true,
    }
    if (body['stream'] === true) await streamFrames(req, res, chatFrames(ctx, plan), script, defaultDelayMs)
    else await sendWhole(req, res, JSON.stringify(chatCompletionObject(ctx, plan)), script)
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address

  return {
    url: `http://${host}:${address.port}/v1`,
    port: address.port,
    get calls() {
      return calls
    },
    callCount: (endpoint) =>
      endpoint === undefined ? [...counts.values()].reduce((a, b) => a + b, 0) : (counts.get(endpoint) ?? 0),
    lastCall: (endpoint) =>
      endpoint === undefined ? calls.at(-1) : calls.findLast((c) => c.endpoint === endpoint),
    enqueue: (...scripts) => {
      queue.push(...scripts)
    },
    setHandler: (next) => {
      handler = next
    },
    forgetResponses: () => stored.clear(),
    storedResponseIds: () => [...stored.keys()],
    reset: () => {
      queue.length = 0
      calls.length = 0
      counts.clear()
      stored.clear()
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

/** Faults that happen before any response byte. True when the request was handled. */
async function applyEarlyFault(
  req: IncomingMessage,
  res: ServerResponse,
  fault: Fault | undefined,
): Promise<boolean> {
  if (!fault) return false
  switch (fault.type) {
    case 'http_error': {
      const headers: Record<string, string> = {}
      if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter
      if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = String(fault.retryAfterMs)
      const { type, code } = errorKind(fault.status)
      sendError(
        res,
        fault.status,
        fault.message ?? `Fake upstream error ${fault.status}`,
        type,
        fault.param ?? null,
        fault.code === undefined ? code : fault.code,
        headers,
      )
      return true
    }
    case 'stall':
      await closed(req, res)
      return true
    case 'reset':
      req.socket.destroy()
      return true
    default:
      return false
  }
}

function errorKind(status: number): { type: string; code: string | null } {
  if (status === 429) return { type: 'requests', code: 'rate_limit_exceeded' }
  if (status === 401) return { type: 'invalid_request_error', code: 'invalid_api_key' }
  if (status >= 500) return { type: 'server_error', code: null }
  return { type: 'invalid_request_error', code: null }
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
}

async function streamFrames(
  req: IncomingMessage,
  res: ServerResponse,
  frames: Frame[],
  script: UpstreamScript,
  defaultDelayMs: number,
): Promise<void> {
  const delayMs = script.delayMs ?? defaultDelayMs
  const fault = script.fault
  res.writeHead(200, { ...SSE_HEADERS, 'x-request-id': newId('req_', 16) })
  if (delayMs === 0 && fault === undefined) {
    // The benchmark path: one write, no timers.
    res.end(frames.map((frame) => frame.text).join(''))
    return
  }
  res.flushHeaders()
  const faultAfter = fault && 'deltas' in fault ? fault.deltas : Number.POSITIVE_INFINITY
  let deltas = 0
  for (const frame of frames) {
    if (frame.delta) {
      if (deltas >= faultAfter && fault) {
        await breakStream(req, res, fault)
        return
      }
      if (delayMs > 0) await sleep(delayMs)
      if (res.destroyed || res.writableEnded) return
      deltas += 1
    }
    res.write(frame.text)
  }
  if (fault && deltas >= faultAfter) {
    await breakStream(req, res, fault)
    return
  }
  res.end()
}

async function breakStream(req: IncomingMessage, res: ServerResponse, fault: Fault): Promise<void> {
  if (fault.type === 'reset_after') {
    // Let what was written reach the client before the connection drops.
    await new Promise<void>((resolve) => res.write('', () => resolve()))
    req.socket.destroy()
  } else if (fault.type === 'malformed_after') {
    res.end('event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":\n\n')
  } else if (fault.type === 'stall_after') {
    await closed(req, res)
  }
}

async function sendWhole(
  req: IncomingMessage,
  res: ServerResponse,
  json: string,
  script: UpstreamScript,
): Promise<void> {
  const fault = script.fault
  if (script.delayMs) await sleep(script.delayMs)
  if (fault?.type === 'reset_after') {
    req.socket.destroy()
    return
  }
  if (fault?.type === 'stall_after') {
    await closed(req, res)
    return
  }
  res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': newId('req_', 16) })
  res.end(fault?.type === 'malformed_after' ? json.slice(0, Math.floor(json.length / 2)) : json)
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(value))
}

function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  type: string,
  param: string | null,
  code: string | null,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(openAIErrorBody(message, type, param, code))
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

/** Resolves when the client goes away (or the server closes the connection). */
function closed(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.socket.destroyed) return Promise.resolve()
  return new Promise((resolve) => {
    res.once('close', () => resolve())
    req.socket.once('close', () => resolve())
  })
}

/** Responses `input`: a string is one user message; items are kept as sent. */
function inputItems(input: unknown): unknown[] {
  if (typeof input === 'string') return [{ type: 'message', role: 'user', content: input }]
  return Array.isArray(input) ? input : []
}
