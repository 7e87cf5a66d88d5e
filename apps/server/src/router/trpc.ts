import {
  type ErrorReason,
  type FieldIssue,
  ParleyError,
  type Stores,
  type TurnService,
  toFieldIssues,
  type User,
  ValidationError,
} from '@parley/core'
import { initTRPC, type TRPC_ERROR_CODE_KEY, TRPCError } from '@trpc/server'
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc'
import type { Logger } from 'pino'
import type { AuthMode } from '../config.ts'
import { releasingIterable, type UserLimits } from '../limits/index.ts'
import type { ServerMetrics } from '../metrics.ts'
import type { BranchService } from '../services/branches.ts'

/** A tool as listed to clients (`tools.list`). */
export interface ListedTool {
  name: string
  description: string
  parameters: Record<string, unknown>
}

/**
 * What every procedure gets. Built per HTTP request (or batch), per SSE stream, and per
 * WebSocket connection. `user` is null when no valid key came with the call (keys mode);
 * `protectedProcedure` turns that into UNAUTHORIZED.
 */
export interface Context {
  user: User | null
  /** Correlates log lines of one HTTP request or WebSocket connection. */
  requestId: string
  log: Logger
  stores: Stores
  turns: TurnService
  tools: { list(): ListedTool[] }
  branches: BranchService
  metrics: ServerMetrics
  info: { auth: AuthMode; provider: string; model: string }
  /** Per-user request rate and concurrent-stream cap; absent = unlimited (e.g. a direct caller). */
  limits?: UserLimits
}

/** ParleyError.status → tRPC code (the HTTP status tRPC answers with follows from the code). */
export function trpcCodeFor(status: number): TRPC_ERROR_CODE_KEY {
  switch (status) {
    case 400:
      return 'BAD_REQUEST'
    case 401:
      return 'UNAUTHORIZED'
    case 403:
      return 'FORBIDDEN'
    case 404:
      return 'NOT_FOUND'
    case 405:
      return 'METHOD_NOT_SUPPORTED'
    case 409:
      return 'CONFLICT'
    case 413:
      return 'PAYLOAD_TOO_LARGE'
    case 422:
      return 'UNPROCESSABLE_CONTENT'
    case 429:
      return 'TOO_MANY_REQUESTS'
    case 502:
      return 'BAD_GATEWAY'
    case 503:
      return 'SERVICE_UNAVAILABLE'
    case 504:
      return 'GATEWAY_TIMEOUT'
    default:
      return status >= 400 && status < 500 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR'
  }
}

const REASON_BY_CODE: Partial<Record<TRPC_ERROR_CODE_KEY, ErrorReason>> = {
  PARSE_ERROR: 'validation',
  BAD_REQUEST: 'validation',
  UNAUTHORIZED: 'unauthenticated',
  NOT_FOUND: 'not_found',
  PAYLOAD_TOO_LARGE: 'payload_too_large',
  TOO_MANY_REQUESTS: 'rate_limited',
}

/** Issues of a zod / Standard Schema failure, as dotted paths (unions: the branch that was meant). */
function schemaIssues(cause: unknown): FieldIssue[] | null {
  if (cause === null || typeof cause !== 'object' || !('issues' in cause) || !Array.isArray(cause.issues)) {
    return null
  }
  return toFieldIssues({ issues: cause.issues })
}

/** Any error a procedure raised → the ParleyError the client will see. Unknown errors become `internal`. */
export function toClientError(error: TRPCError): ParleyError {
  const cause = error.cause
  if (cause instanceof ParleyError) return cause
  const issues = schemaIssues(cause)
  if (issues) return new ValidationError(issues)
  const reason = REASON_BY_CODE[error.code]
  if (reason === 'validation') return new ValidationError([], error.message)
  if (reason === 'payload_too_large') return new ParleyError(reason, 'Request is too large', 413)
  if (error.code === 'METHOD_NOT_SUPPORTED') {
    return new ParleyError(
      'method_not_allowed',
      'Wrong HTTP method: queries and subscriptions use GET, mutations POST',
      405,
    )
  }
  if (reason) {
    const status = reason === 'unauthenticated' ? 401 : reason === 'not_found' ? 404 : 429
    return new ParleyError(reason, error.message, status)
  }
  return new ParleyError('internal', 'Internal error', 500)
}

/** The error body of a refusal made before tRPC runs (unreadable body, size, draining), in tRPC's shape. */
export function trpcErrorBody(parley: ParleyError) {
  const code = trpcCodeFor(parley.status)
  return {
    error: {
      message: parley.message,
      code: TRPC_ERROR_CODES_BY_KEY[code],
      data: { code, httpStatus: parley.status, reason: parley.reason },
    },
  }
}

const t = initTRPC.context<Context>().create({
  isDev: false,
  errorFormatter({ shape, error }) {
    const parley = toClientError(error)
    const code = trpcCodeFor(parley.status)
    return {
      message: parley.message,
      // Errors raised inside a subscription arrive here as INTERNAL_SERVER_ERROR, which SSE clients
      // retry forever; the code of the ParleyError is the one that counts.
      code: TRPC_ERROR_CODES_BY_KEY[code],
      data: {
        code,
        httpStatus: parley.status,
        path: shape.data.path,
        reason: parley.reason,
        issues: parley instanceof ValidationError ? parley.issues : undefined,
        retryAfterMs: parley.retryAfterMs,
      },
    }
  },
  sse: {
    // Pings keep proxies from closing quiet streams; the client reconnects (with Last-Event-ID)
    // when it hears nothing for longer than that.
    ping: { enabled: true, intervalMs: 10_000 },
    client: { reconnectAfterInactivityMs: 25_000 },
  },
})

/**
 * Services throw ParleyErrors; tRPC only knows TRPCErrors. Converting here gives queries and
 * mutations the right HTTP status. Errors raised while a subscription iterates never pass
 * through middleware: the error formatter maps those.
 */
const parleyErrors = t.middleware(async ({ next, ctx, path, type }) => {
  const result = await next()
  if (!result.ok) {
    const parley = toClientError(result.error)
    if (parley.reason === 'internal') {
      ctx.log.error({ err: result.error.cause ?? result.error, path, type }, 'procedure failed')
    }
    if (!(result.error.cause instanceof ParleyError)) return result
    throw new TRPCError({ code: trpcCodeFor(parley.status), message: parley.message, cause: parley })
  }
  return result
})

export const createTRPCRouter = t.router
export const createCallerFactory = t.createCallerFactory
export const publicProcedure = t.procedure.use(parleyErrors)
export const protectedProcedure = publicProcedure
  .use(({ ctx, next }) => {
    if (!ctx.user) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'A valid API key is required' })
    return next({ ctx: { ...ctx, user: ctx.user, userId: ctx.user.id } })
  })
  .use(async ({ ctx, next, type, signal }) => {
    ctx.limits?.takeRequest(ctx.userId)
    // A subscription holds its slot until its iteration ends, however it ends.
    const release = type === 'subscription' ? ctx.limits?.openStream(ctx.userId) : undefined
    if (!release) return next()
    let result: Awaited<ReturnType<typeof next>>
    try {
      result = await next()
    } catch (error) {
      release()
      throw error
    }
    if (!result.ok || !isAsyncIterable(result.data)) {
      release()
      return result
    }
    return { ...result, data: releasingIterable(result.data, release, signal) }
  })

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return value !== null && typeof value === 'object' && Symbol.asyncIterator in value
}
