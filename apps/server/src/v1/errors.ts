import { type FieldIssue, ParleyError, shortened, ValidationError } from '@parley/core'
import type { WireErrorBody } from './wire.ts'

/**
 * An error as `/v1` answers it: the Open Responses error object
 * `{ error: { message, type, param, code } }` with its HTTP status. Every failure that leaves
 * the endpoint goes through `toV1Error`, so a stack, an SQL message or a key never does.
 */
export class V1Error extends Error {
  readonly status: number
  readonly type: string
  readonly code: string | null
  readonly param: string | null
  readonly retryAfterMs: number | undefined

  constructor(
    status: number,
    message: string,
    options: { type?: string; code?: string | null; param?: string | null; retryAfterMs?: number } = {},
  ) {
    super(message)
    this.name = new.target.name
    this.status = status
    this.type = options.type ?? defaultType(status)
    this.code = options.code ?? null
    this.param = options.param ?? null
    this.retryAfterMs = options.retryAfterMs
  }

  body(): WireErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } }
  }
}

function defaultType(status: number): string {
  if (status === 401) return 'authentication_error'
  if (status === 404) return 'not_found'
  if (status === 429) return 'too_many_requests'
  if (status >= 500) return 'server_error'
  return 'invalid_request_error'
}

export function invalidRequest(param: string | null, message: string, code = 'invalid_value'): V1Error {
  return new V1Error(400, message, { param, code })
}

export function unsupported(param: string, message: string): V1Error {
  return new V1Error(400, message, { param, code: 'unsupported_parameter' })
}

/** A parameter the Responses API does not have (a typo, most likely): refused, never ignored. */
export function unknownParameter(param: string): V1Error {
  const name = shortened(param, 64)
  return new V1Error(400, `Unknown parameter: '${name}'.`, { param: name, code: 'unknown_parameter' })
}

export function notFound(what: string, id: string, param: string | null = null): V1Error {
  return new V1Error(404, `No ${what} found with id '${id}'`, { code: 'not_found', param })
}

/**
 * Core field paths → the `/v1` parameter they came from: the orchestrator validates a
 * `SendInput`, whose names differ from the Responses API's.
 */
const CORE_PARAMS: [RegExp, string][] = [
  [/^settings\.topP/, 'top_p'],
  [/^settings\.maxOutputTokens/, 'max_output_tokens'],
  [/^settings\.toolChoice/, 'tool_choice'],
  [/^settings\.parallelToolCalls/, 'parallel_tool_calls'],
  [/^settings\./, ''],
  [/^conversationId/, 'conversation'],
  [/^parentTurnId/, 'previous_response_id'],
  [/^requestId/, 'Idempotency-Key'],
]

export function coreParam(path: string): string {
  for (const [pattern, replacement] of CORE_PARAMS) {
    if (pattern.test(path)) return path.replace(pattern, replacement)
  }
  return path
}

export function validationError(issues: FieldIssue[], prefix = ''): V1Error {
  const first = issues[0]
  const param = first ? joinPath(prefix, coreParam(first.path)) : prefix || null
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''
  const message = !first
    ? 'Invalid request'
    : param
      ? `Invalid '${param}': ${first.message}${more}`
      : `Invalid request body: ${first.message}${more}`
  return new V1Error(400, message, { param: param || null, code: 'invalid_value' })
}

function joinPath(prefix: string, path: string): string {
  if (!prefix) return path
  return path ? `${prefix}.${path}` : prefix
}

const PARLEY_TYPES: Partial<Record<string, string>> = {
  idempotency_key_reused: 'invalid_request_error',
  conversation_busy: 'invalid_request_error',
  previous_response_not_found: 'not_found',
  upstream_auth: 'server_error',
  upstream_bad_request: 'invalid_request_error',
  context_length_exceeded: 'invalid_request_error',
}

/** Reasons whose `/v1` error code is the OpenAI API's name for them. */
const PARLEY_CODES: Partial<Record<string, string>> = {
  rate_limited: 'rate_limit_exceeded',
  internal: 'server_error',
}

/** Anything thrown → a V1Error. Unknown errors become a bare 500 with no detail. */
export function toV1Error(error: unknown): V1Error {
  if (error instanceof V1Error) return error
  if (error instanceof ValidationError) return validationError(error.issues)
  if (error instanceof ParleyError) {
    const code = PARLEY_CODES[error.reason] ?? error.reason
    const options: { type?: string; code: string; retryAfterMs?: number } = { code }
    const type = PARLEY_TYPES[error.reason]
    if (type) options.type = type
    if (error.retryAfterMs !== undefined) options.retryAfterMs = error.retryAfterMs
    const message =
      error.reason === 'internal' ? 'The server had an error while processing the request' : error.message
    return new V1Error(error.status, message, options)
  }
  return new V1Error(500, 'The server had an error while processing the request', { code: 'server_error' })
}
