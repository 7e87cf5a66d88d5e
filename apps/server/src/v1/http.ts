import type { IncomingMessage, ServerResponse } from 'node:http'
import { readUtf8Body } from '../http/body.ts'
import { V1Error } from './errors.ts'
import { isRecord } from './schemas.ts'
import type { WireStreamEvent } from './wire.ts'

/** Largest request body the endpoint reads; bigger ones answer 413 without being buffered. */
export const MAX_BODY_BYTES = 2 * 1024 * 1024

/** Reads a JSON body. No body (or an empty one) is `undefined`. */
export async function readJsonBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<unknown> {
  const body = await readUtf8Body(req, limit)
  if (!body.ok && body.problem === 'too_large') {
    throw new V1Error(413, `Request body is larger than ${limit} bytes`, { code: 'payload_too_large' })
  }
  if (!body.ok) throw new V1Error(400, 'The request body is not valid UTF-8', { code: 'invalid_json' })
  if (body.text === '') return undefined
  try {
    return JSON.parse(body.text) as unknown
  } catch {
    throw new V1Error(400, 'The request body is not valid JSON', { code: 'invalid_json' })
  }
}

/** A body that must be a JSON object (its shape is the caller's to check): anything else is a 400. */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = await readJsonBody(req)
  if (!isRecord(raw)) {
    throw new V1Error(400, 'The request body must be a JSON object', { code: 'invalid_json' })
  }
  return raw
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const payload = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
    ...headers,
  })
  res.end(payload)
}

export function sendError(res: ServerResponse, error: V1Error) {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const headers: Record<string, string> = {}
  if (error.retryAfterMs !== undefined)
    headers['retry-after'] = String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)))
  // A refused body may still be arriving: close the connection rather than read it.
  if (error.status === 413) headers.connection = 'close'
  sendJson(res, error.status, error.body(), headers)
}

/**
 * Server-sent events as the Open Responses spec wants them: every event is one frame
 * `event: <type>\ndata: <one-line JSON>\n\n` written with a single write (a reader never sees
 * half a frame), and the stream ends with `data: [DONE]`.
 */
export class SseWriter {
  private readonly keepAlive: NodeJS.Timeout

  constructor(
    private readonly res: ServerResponse,
    keepAliveMs = 15_000,
  ) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    })
    res.flushHeaders()
    // Comment frames keep idle proxies from closing a stream while a tool or the model thinks.
    this.keepAlive = setInterval(() => this.write(': keepalive\n\n'), keepAliveMs)
    this.keepAlive.unref()
  }

  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded
  }

  /** Resolves when the frame is handed to the socket (waits for `drain` under backpressure). */
  async send(event: WireStreamEvent): Promise<void> {
    // JSON.stringify escapes newlines inside strings, so `data:` is always a single line.
    await this.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)
  }

  end() {
    clearInterval(this.keepAlive)
    if (this.closed) return
    this.res.end('data: [DONE]\n\n')
  }

  abort() {
    clearInterval(this.keepAlive)
    if (!this.closed) this.res.end()
  }

  private write(frame: string): Promise<void> {
    if (this.closed) return Promise.resolve()
    const accepted = this.res.write(frame)
    // `write` holds a chunk until the end of the tick: without this, a burst of events handled
    // in one tick would leave together, the first one waiting for the last.
    this.res.uncork()
    if (accepted) return Promise.resolve()
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done)
        this.res.off('close', done)
        resolve()
      }
      this.res.on('drain', done)
      this.res.on('close', done)
    })
  }
}
