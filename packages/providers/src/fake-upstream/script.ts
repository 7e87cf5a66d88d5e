/**
 * What the fake upstream does for one request. Everything is optional: an empty script answers
 * with the server's default text.
 */
export interface UpstreamScript {
  /** Reply text, streamed word by word (whitespace stays with the following word). */
  text?: string
  /** Exact text deltas; wins over `text`. */
  deltas?: string[]
  toolCalls?: UpstreamToolCall[]
  /** Responses API only: a reasoning item (summary text) before the message. */
  reasoning?: string
  usage?: UpstreamUsage
  /** Pause before every delta (text and tool arguments). */
  delayMs?: number
  /** Responses: `incomplete` with `max_output_tokens`; Chat: finish_reason `length`. */
  truncated?: boolean
  fault?: Fault
}

export interface UpstreamToolCall {
  name: string
  /** JSON text (objects are encoded). */
  arguments?: string | Record<string, unknown>
  callId?: string
  /** Split the argument text into this many deltas (default 3). */
  argumentChunks?: number
}

export interface UpstreamUsage {
  inputTokens?: number
  outputTokens?: number
  cachedTokens?: number
  reasoningTokens?: number
}

export type Fault =
  /** An HTTP error with the OpenAI error body (e.g. 429 with Retry-After, 500, 503, 401, 400). */
  | {
      type: 'http_error'
      status: number
      /** Seconds, as OpenAI sends it. */
      retryAfter?: string
      retryAfterMs?: number
      code?: string | null
      param?: string | null
      message?: string
    }
  /** Accept the request and never answer (until the client goes away). */
  | { type: 'stall' }
  /** Answer headers and this many deltas, then go silent. */
  | { type: 'stall_after'; deltas: number }
  /** Drop the connection before any response byte. */
  | { type: 'reset' }
  /** Stream this many deltas, then drop the connection. */
  | { type: 'reset_after'; deltas: number }
  /** Stream this many deltas, then send a chunk that is not JSON and end the response. */
  | { type: 'malformed_after'; deltas: number }
  /** Answer as if `previous_response_id` were unknown (400 with code, as OpenAI does; or 404). */
  | { type: 'unknown_previous_response'; status?: 400 | 404 }

export type UpstreamEndpoint = 'responses' | 'responses.get' | 'responses.delete' | 'chat.completions'

export interface RecordedCall {
  endpoint: UpstreamEndpoint
  method: string
  path: string
  /** The parsed JSON body (null for GET/DELETE). */
  body: unknown
  headers: Record<string, string | string[] | undefined>
  /**
   * Responses API: the context the request resolved to (the stored chain behind
   * `previous_response_id`, then this request's input), as input items.
   */
  context?: unknown[]
  at: number
}

/** Decides the script of a request that the queue does not cover; undefined = default reply. */
export type UpstreamHandler = (call: RecordedCall) => UpstreamScript | undefined
