import type { IncomingMessage, ServerResponse } from 'node:http'
import { RequestId } from '@parley/core'
import { ResponseConversations, type V1Deps, type V1Request } from './context.ts'
import {
  createConversation,
  createConversationItems,
  deleteConversation,
  deleteConversationItem,
  listConversationItems,
  retrieveConversation,
  retrieveConversationItem,
  updateConversation,
} from './conversations.ts'
import { toV1Error, V1Error } from './errors.ts'
import { sendError } from './http.ts'
import {
  cancelResponse,
  createResponse,
  deleteResponse,
  listInputItems,
  retrieveResponse,
} from './responses.ts'

export type { V1Deps } from './context.ts'

type Handler = (ctx: V1Request, ...params: string[]) => Promise<void>

interface Route {
  pattern: RegExp
  methods: Partial<Record<string, Handler>>
}

const SEGMENT = '([^/]+)'
const routes: Route[] = [
  { pattern: /^\/v1\/responses$/, methods: { POST: createResponse } },
  {
    pattern: new RegExp(`^/v1/responses/${SEGMENT}$`),
    methods: { GET: retrieveResponse, DELETE: deleteResponse },
  },
  { pattern: new RegExp(`^/v1/responses/${SEGMENT}/input_items$`), methods: { GET: listInputItems } },
  { pattern: new RegExp(`^/v1/responses/${SEGMENT}/cancel$`), methods: { POST: cancelResponse } },
  { pattern: /^\/v1\/conversations$/, methods: { POST: createConversation } },
  {
    pattern: new RegExp(`^/v1/conversations/${SEGMENT}$`),
    methods: { GET: retrieveConversation, POST: updateConversation, DELETE: deleteConversation },
  },
  {
    pattern: new RegExp(`^/v1/conversations/${SEGMENT}/items$`),
    methods: { GET: listConversationItems, POST: createConversationItems },
  },
  {
    pattern: new RegExp(`^/v1/conversations/${SEGMENT}/items/${SEGMENT}$`),
    methods: { GET: retrieveConversationItem, DELETE: deleteConversationItem },
  },
]

function match(method: string, path: string): { handler: Handler; params: string[] } | V1Error {
  for (const route of routes) {
    const found = route.pattern.exec(path)
    if (!found) continue
    const handler = route.methods[method]
    if (!handler) {
      return new V1Error(405, `Method ${method} is not allowed on ${path}`, { code: 'method_not_allowed' })
    }
    try {
      return { handler, params: found.slice(1).map((segment) => decodeURIComponent(segment)) }
    } catch {
      return new V1Error(404, `Unknown endpoint: ${method} ${path}`, { code: 'unknown_url' })
    }
  }
  return new V1Error(404, `Unknown endpoint: ${method} ${path}`, { code: 'unknown_url' })
}

function idempotencyKey(req: IncomingMessage): string | null {
  const header = req.headers['idempotency-key']
  const value = Array.isArray(header) ? header[0] : header
  if (value === undefined) return null
  if (!RequestId.safeParse(value).success) {
    throw new V1Error(400, 'Idempotency-Key must be 1 to 255 printable ASCII characters without spaces', {
      param: 'Idempotency-Key',
      code: 'invalid_value',
    })
  }
  return value
}

/**
 * The OpenAI-compatible `/v1` endpoint (Responses and Conversations), for every request whose
 * path starts with `/v1/`. See docs/responses-api.md for the supported subset and the mapping
 * onto Parley's turns and conversations.
 */
export function createV1Handler(deps: V1Deps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const responses = new ResponseConversations()
  return async (req, res) => {
    const method = req.method ?? 'GET'
    try {
      const url = new URL(req.url ?? '/', 'http://localhost')
      const route = match(method, url.pathname)
      if (route instanceof V1Error) throw route
      const user = await deps.authenticate(req)
      if (!user) {
        throw new V1Error(401, 'A valid API key is required (Authorization: Bearer <key>)', {
          code: 'invalid_api_key',
        })
      }
      const ctx: V1Request = { deps, responses, user, req, res, url, idempotencyKey: idempotencyKey(req) }
      await route.handler(ctx, ...route.params)
    } catch (error) {
      const failure = toV1Error(error)
      if (failure.status >= 500) {
        deps.log?.({
          level: 'error',
          msg: 'v1 request failed',
          requestId: res.getHeader('x-request-id'),
          method,
          path: req.url?.split('?')[0],
          reason: failure.code,
          error: error instanceof Error ? error.name : typeof error,
        })
      }
      sendError(res, failure)
    }
  }
}
