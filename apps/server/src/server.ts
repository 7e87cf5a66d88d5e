import { existsSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import {
  builtinTools,
  type ErrorReason,
  newId,
  Orchestrator,
  ParleyError,
  type Provider,
  ToolRegistry,
  type User,
} from '@parley/core'
import { createStores, type PersistentStores } from '@parley/persistence'
import { createProvider } from '@parley/providers'
import { createHTTPHandler } from '@trpc/server/adapters/standalone'
import { applyWSSHandler } from '@trpc/server/adapters/ws'
import type { Logger } from 'pino'
import { WebSocketServer } from 'ws'
import { Authenticator, bearerToken } from './auth.ts'
import { resolveConfig, type ServerConfig } from './config.ts'
import { readUtf8Body } from './http/body.ts'
import { serveStatic } from './http/static.ts'
import { UserLimits } from './limits/index.ts'
import { createLogger } from './log.ts'
import { ServerMetrics } from './metrics.ts'
import { IMPORT_MAX_BYTES } from './router/imports.ts'
import { appRouter } from './router/root.ts'
import { type Context, type ListedTool, trpcErrorBody } from './router/trpc.ts'
import { BranchService } from './services/branches.ts'
import { toV1Error, V1Error } from './v1/errors.ts'
import { sendError as sendV1Error } from './v1/http.ts'
import { createV1Handler } from './v1/index.ts'

/** Parts a caller may supply instead of the ones built from the configuration (tests, benchmarks). */
export interface ServerDeps {
  /** A provider instance (e.g. a `ScriptedModel`) instead of `config.provider`. */
  provider?: Provider
  /** Stores shared with other servers (several instances on one database): migrated, never closed here. */
  stores?: PersistentStores
  tools?: ToolRegistry
  logger?: Logger
}

export interface ServerOptions extends Partial<ServerConfig> {
  /** Largest request body on every transport (HTTP, SSE, WebSocket message). Default 2 MiB. */
  maxBodyBytes?: number
  /** How long shutdown waits for running turns. Default 10 s. */
  shutdownGraceMs?: number
  /** Directory of the built web app; default `apps/web/dist` when it exists. */
  webRoot?: string | null
}

export interface ParleyServer {
  url: string
  port: number
  stores: PersistentStores
  metrics: ServerMetrics
  /** Drops every open WebSocket and HTTP connection (clients reconnect); for failover tests and drills. */
  dropConnections(): void
  /** Stops accepting work, asks WebSocket clients to reconnect, lets running turns finish (bounded), exits. */
  close(): Promise<void>
}

const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../web/dist', import.meta.url))
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/
const IMPORT_PATH = '/trpc/imports.run'
/** `/v1` requests that hold their connection for a turn's whole run count as streams. */
const V1_RESPONSE_STREAM = /^\/v1\/responses\/[^/]+$/

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
  res.end(text)
}

function errorBody(reason: string, message: string) {
  return { error: { reason, message } }
}

function apiKeyFromParams(params: Record<string, string | undefined> | null | undefined): string | null {
  const key = params?.['apiKey']
  return typeof key === 'string' && key.length > 0 ? key : null
}

/**
 * The composition root: stores, provider, tools and orchestrator wired behind one port that
 * serves tRPC over HTTP (batching), WebSocket and SSE, `/v1`, health, metrics and the web app.
 */
export async function createParleyServer(
  options: ServerOptions = {},
  deps: ServerDeps = {},
): Promise<ParleyServer> {
  const config = resolveConfig({
    port: options.port ?? 0,
    host: options.host ?? '127.0.0.1',
    databaseUrl: options.databaseUrl ?? null,
    dataDir: options.dataDir ?? '',
    provider: options.provider ?? 'scripted',
    openaiApiKey: options.openaiApiKey ?? null,
    openaiBaseUrl: options.openaiBaseUrl ?? null,
    model: options.model ?? null,
    auth: options.auth,
    logLevel: options.logLevel ?? 'silent',
  })
  // Embedders (tests, benchmarks) opt into limits; `loadConfig` gives the env-started process its defaults.
  const limits = new UserLimits({
    ratePerMinute: options.rateLimitPerMin ?? 0,
    maxStreamsPerUser: options.maxStreamsPerUser ?? 0,
  })
  const maxBodyBytes = options.maxBodyBytes ?? 2 * 1024 * 1024
  const graceMs = options.shutdownGraceMs ?? 10_000
  const log = deps.logger ?? createLogger(config.logLevel)
  /** The orchestrator's and `/v1`'s log lines, each at its own level. */
  const writeLog = ({ level, msg, ...fields }: { level: 'info' | 'warn' | 'error'; msg: string }) =>
    log[level](fields, msg)
  const metrics = new ServerMetrics()

  const ownsStores = !deps.stores
  // No database URL and no data directory (tests): an in-memory PGlite.
  const stores =
    deps.stores ??
    (await createStores(
      config.databaseUrl
        ? { url: config.databaseUrl }
        : config.dataDir
          ? { dataDir: config.dataDir }
          : { memory: true },
    ))
  await stores.migrate()

  const provider =
    deps.provider ??
    createProvider({
      kind: config.provider,
      apiKey: config.openaiApiKey ?? undefined,
      baseURL: config.openaiBaseUrl ?? undefined,
      model: config.model ?? undefined,
    })
  const tools = deps.tools ?? new ToolRegistry()
  if (!deps.tools) for (const tool of builtinTools) tools.register(tool)
  const listedTools: ListedTool[] = tools.list().map((tool) => ({
    name: tool.name,
    description: tool.description,
    parameters: tool.parameters,
  }))

  const orchestrator = new Orchestrator({
    stores,
    provider,
    bus: stores.bus,
    tools,
    ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
    observer: {
      turnStarted: () => metrics.turnsStarted.inc(),
      firstToken: (ms) => metrics.timeToFirstToken.observe(ms / 1000),
      providerCall: (ms, ok) => metrics.providerLatency.observe(ms / 1000, { outcome: ok ? 'ok' : 'error' }),
      turnFinished: (status) => metrics.turns.inc({ status }),
    },
    log: writeLog,
  })
  await orchestrator.start()

  const auth = new Authenticator(config.auth, stores.users)
  const branches = new BranchService(stores)
  const info = { auth: config.auth, provider: provider.name, model: config.model ?? provider.defaultModel }
  const makeContext = (user: User | null, requestId: string): Context => ({
    user,
    requestId,
    log: log.child({ requestId }),
    stores,
    turns: orchestrator,
    tools: { list: () => listedTools },
    branches,
    metrics,
    info,
    limits,
  })

  const requestIds = new WeakMap<IncomingMessage, string>()
  const trpcHandler = (maxBodySize: number) =>
    createHTTPHandler({
      router: appRouter,
      basePath: '/trpc/',
      maxBodySize,
      // A refused call says when to come back, as HTTP clients and proxies expect.
      responseMeta: ({ errors }) => {
        const waits = errors.map((error) =>
          error.cause instanceof ParleyError ? (error.cause.retryAfterMs ?? 0) : 0,
        )
        const wait = Math.max(0, ...waits)
        return wait > 0 ? { headers: { 'retry-after': String(Math.max(1, Math.ceil(wait / 1000))) } } : {}
      },
      createContext: async ({ req, info: request }) => {
        const user = await auth.authenticate(
          bearerToken(req.headers) ?? apiKeyFromParams(request.connectionParams),
        )
        return makeContext(user, requestIds.get(req) ?? newId('req'))
      },
    })
  const trpc = trpcHandler(maxBodyBytes)
  // File imports stream a whole export file as the body: they get their own, larger limit.
  const importMaxBytes = Math.max(maxBodyBytes, IMPORT_MAX_BYTES)
  const trpcImports = trpcHandler(importMaxBytes)
  const bodyLimit = (path: string) => (path === IMPORT_PATH ? importMaxBytes : maxBodyBytes)

  const v1 = createV1Handler({
    turns: orchestrator,
    stores,
    authenticate: (req) => auth.authenticate(bearerToken(req.headers)),
    defaultModel: info.model,
    log: writeLog,
  })
  const webRoot = options.webRoot === undefined ? DEFAULT_WEB_ROOT : options.webRoot
  const serveWeb = webRoot !== null && existsSync(webRoot)

  let draining = false

  /**
   * `/v1` limits, applied before the handler reads the body so that a refused request costs
   * nothing. An unauthenticated request passes through: the handler answers it with 401.
   */
  async function admitV1(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const user = await auth.authenticate(bearerToken(req.headers))
    if (!user) return
    limits.takeRequest(user.id)
    const longLived =
      (req.method === 'POST' && path === '/v1/responses') ||
      (req.method === 'GET' && V1_RESPONSE_STREAM.test(path) && /[?&]stream=true(&|$)/.test(req.url ?? ''))
    if (longLived) {
      const release = limits.openStream(user.id)
      res.once('close', release)
    }
  }

  /** Early refusals answer in the shape of the API asked: OpenAI's error object under `/v1/`. */
  function refuse(
    res: ServerResponse,
    path: string,
    status: number,
    reason: ErrorReason,
    message: string,
    headers: Record<string, string>,
  ): void {
    if (path.startsWith('/trpc/')) {
      sendJson(res, status, trpcErrorBody(new ParleyError(reason, message, status)), headers)
      return
    }
    if (!path.startsWith('/v1/')) {
      sendJson(res, status, errorBody(reason, message), headers)
      return
    }
    const type = status === 413 ? 'invalid_request_error' : 'server_error'
    sendJson(res, status, new V1Error(status, message, { type, code: reason }).body(), headers)
  }

  async function route(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' })
    if (path === '/readyz') {
      const ready = await stores.ready().catch(() => false)
      return sendJson(res, ready && !draining ? 200 : 503, {
        status: ready && !draining ? 'ready' : 'unavailable',
      })
    }
    if (path === '/metrics') {
      const ready = await stores.ready().catch(() => false)
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
      res.end(metrics.render(ready))
      return
    }
    if (path === IMPORT_PATH) return trpcImports(req, res)
    if (path.startsWith('/trpc/')) {
      // tRPC calls `res.flush()`, where there is one, after each chunk of a streamed body. Node's
      // `write` holds a chunk until the end of the tick: flushing sends each SSE event when it
      // is written, not with the last one of a burst handled in the same tick.
      Object.assign(res, { flush: () => res.uncork() })
      if (req.method === 'POST') {
        // Read here so that bytes that are not UTF-8 are refused, not decoded into U+FFFD;
        // tRPC takes a body that is already read from `req.body`.
        const body = await readUtf8Body(req, maxBodyBytes)
        if (!body.ok) {
          const tooLarge = body.problem === 'too_large'
          return refuse(
            res,
            path,
            tooLarge ? 413 : 400,
            tooLarge ? 'payload_too_large' : 'validation',
            tooLarge
              ? `Request body is larger than ${maxBodyBytes} bytes`
              : 'The request body is not valid UTF-8',
            {},
          )
        }
        Object.assign(req, { body: body.text === '' ? undefined : body.text })
      }
      return trpc(req, res)
    }
    if (path.startsWith('/v1/')) {
      try {
        await admitV1(req, res, path)
      } catch (error) {
        return sendV1Error(res, toV1Error(error))
      }
      return v1(req, res)
    }
    if (serveWeb && webRoot && !path.startsWith('/trpc') && !path.startsWith('/v1')) {
      if (await serveStatic(webRoot, req, res)) return
    }
    sendJson(res, 404, errorBody('not_found', 'Not found'))
  }

  const httpServer: Server = createServer((req, res) => {
    const started = performance.now()
    const incoming = req.headers['x-request-id']
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : newId('req')
    requestIds.set(req, requestId)
    res.setHeader('x-request-id', requestId)
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    res.once('finish', () => {
      const group = path.split('/')[1] ?? ''
      metrics.httpRequests.inc({ route: group || 'root', status: `${Math.floor(res.statusCode / 100)}xx` })
      if (path !== '/healthz' && path !== '/readyz' && path !== '/metrics') {
        log.info(
          {
            requestId,
            method: req.method,
            path,
            status: res.statusCode,
            ms: Math.round(performance.now() - started),
          },
          'request',
        )
      }
    })
    if (draining && path !== '/healthz' && path !== '/readyz') {
      return refuse(res, path, 503, 'unavailable', 'The server is shutting down; retry', {
        connection: 'close',
        'retry-after': '1',
      })
    }
    const length = Number(req.headers['content-length'] ?? 0)
    const limit = bodyLimit(path)
    if (length > limit) {
      return refuse(res, path, 413, 'payload_too_large', `Request is too large: at most ${limit} bytes`, {
        connection: 'close',
      })
    }
    route(req, res, path).catch((error: unknown) => {
      log.error({ err: error, requestId, path }, 'request failed')
      if (res.headersSent) res.destroy()
      else if (path.startsWith('/v1/')) sendV1Error(res, toV1Error(error))
      else sendJson(res, 500, errorBody('internal', 'Internal error'))
    })
  })

  // A request line or headers beyond Node's limit (e.g. a huge SSE subscription input in the
  // query string) never reaches a handler: answer it typed instead of with a bare status line.
  httpServer.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy()
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW'
    const status = tooLarge ? 431 : 400
    const body = JSON.stringify(
      tooLarge
        ? errorBody(
            'payload_too_large',
            'Request line or headers are too large (send big inputs in a POST body)',
          )
        : errorBody('validation', 'Malformed HTTP request'),
    )
    socket.end(
      `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
        `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `connection: close\r\n\r\n${body}`,
    )
  })

  const wss = new WebSocketServer({ noServer: true, maxPayload: maxBodyBytes })
  const wsHandler = applyWSSHandler({
    wss,
    router: appRouter,
    keepAlive: { enabled: true, pingMs: 30_000, pongWaitMs: 10_000 },
    createContext: async ({ req, info: request }) => {
      const user = await auth.authenticate(
        apiKeyFromParams(request.connectionParams) ?? bearerToken(req.headers),
      )
      return makeContext(user, newId('req'))
    },
  })
  wss.on('connection', (socket) => {
    metrics.wsConnections.inc()
    socket.once('close', () => metrics.wsConnections.dec())
  })
  httpServer.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    if (draining || !(path === '/trpc' || path.startsWith('/trpc/'))) {
      socket.destroy()
      return
    }
    wss.handleUpgrade(req, socket, head, (client) => wss.emit('connection', client, req))
  })

  try {
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject)
      httpServer.listen(config.port, config.host, () => {
        httpServer.off('error', reject)
        resolve()
      })
    })
  } catch (error) {
    // Nothing is running yet: release the database before reporting (e.g. EADDRINUSE).
    await orchestrator.stop()
    wss.close()
    if (ownsStores) await stores.close()
    throw error
  }
  const port = (httpServer.address() as AddressInfo).port
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  const url = `http://${host}:${port}`
  log.info({ url, auth: config.auth, provider: provider.name, model: info.model }, 'parley listening')

  let closing: Promise<void> | null = null
  async function shutdown(): Promise<void> {
    draining = true
    const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()))
    httpServer.closeIdleConnections()
    wsHandler.broadcastReconnectNotification()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      orchestrator.stop(),
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          log.warn({ graceMs }, 'running turns did not finish in time; their leases will expire')
          resolve()
        }, graceMs)
      }),
    ])
    clearTimeout(timer)
    for (const client of wss.clients) client.terminate()
    wss.close()
    httpServer.closeAllConnections()
    await closed
    if (ownsStores) await stores.close()
    log.info('parley stopped')
  }

  return {
    url,
    port,
    stores,
    metrics,
    dropConnections() {
      for (const client of wss.clients) client.terminate()
      httpServer.closeAllConnections()
    },
    close() {
      closing ??= shutdown()
      return closing
    },
  }
}
