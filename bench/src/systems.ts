import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Child, freePort, startNode } from './procs.ts'
import { MODEL, ResponsesEndpoint } from './responses-http.ts'

export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url))
export const REPO_ROOT = join(BENCH_DIR, '..')

/** A fake OpenAI upstream in its own process; its call counter is read over IPC. */
export interface Upstream {
  child: Child
  /** Base URL ending in `/v1`. */
  url: string
  endpoint: ResponsesEndpoint
  /** `POST /v1/responses` calls received so far. */
  calls(): Promise<number>
  stop(): Promise<void>
}

export async function startUpstream(options: { tokens?: number; delayMs?: number } = {}): Promise<Upstream> {
  const child = await startNode({
    name: 'fake upstream',
    args: ['--import', 'tsx', join(BENCH_DIR, 'src/children/upstream.ts')],
    cwd: BENCH_DIR,
    env: {
      BENCH_UPSTREAM_TOKENS: String(options.tokens ?? 20),
      BENCH_UPSTREAM_DELAY_MS: String(options.delayMs ?? 0),
    },
  })
  return {
    child,
    url: child.url,
    endpoint: new ResponsesEndpoint(child.url),
    calls: async () => (await child.ask<{ count: number }>({ type: 'count' })).count,
    stop: () => child.stop(),
  }
}

/** The peer gateway: a stateless pass-through to the same upstream. */
export interface Peer {
  child: Child
  endpoint: ResponsesEndpoint
  stop(): Promise<void>
}

export function peerEntry(): string {
  const require = createRequire(import.meta.url)
  return join(dirname(require.resolve('@portkey-ai/gateway/package.json')), 'build/start-server.js')
}

export async function startPeer(upstream: Upstream, probeOnly = false): Promise<Peer> {
  const port = await freePort()
  const child = await startNode({
    name: 'peer gateway',
    args: [
      '--require',
      join(BENCH_DIR, 'src/children/loopback-preload.cjs'),
      peerEntry(),
      `--port=${port}`,
      '--headless',
    ],
    cwd: BENCH_DIR,
    env: { NODE_ENV: 'production' },
    probe: { url: `http://127.0.0.1:${port}/` },
    timeoutMs: 60_000,
  })
  const endpoint = new ResponsesEndpoint(`http://127.0.0.1:${port}/v1`, {
    authorization: 'Bearer bench-key',
    'x-portkey-provider': 'openai',
    'x-portkey-custom-host': upstream.url,
  })
  if (!probeOnly) await endpoint.create({ model: MODEL, input: 'warm up', store: false })
  return { child, endpoint, stop: () => child.stop() }
}

export type ParleyStorage = { kind: 'pglite'; dataDir: string } | { kind: 'postgres'; url: string }

export interface Parley {
  child: Child
  url: string
  storage: ParleyStorage
  /** Parley's `/v1` (OpenAI-compatible) endpoint. */
  v1: ResponsesEndpoint
  stop(): Promise<void>
}

/** The server as an operator runs it (`apps/server/src/main.ts` with its environment variables). */
export async function startParley(options: {
  name: string
  storage: ParleyStorage
  upstream: Upstream
  timeoutMs?: number
}): Promise<Parley> {
  const port = await freePort()
  const child = await startNode({
    name: options.name,
    args: ['--import', 'tsx', join(REPO_ROOT, 'apps/server/src/main.ts')],
    cwd: REPO_ROOT,
    env: parleyEnv(port, options.storage, options.upstream.url),
    probe: { url: `http://127.0.0.1:${port}/readyz`, status: 200 },
    timeoutMs: options.timeoutMs ?? 120_000,
  })
  const url = `http://127.0.0.1:${port}`
  return {
    child,
    url,
    storage: options.storage,
    v1: new ResponsesEndpoint(`${url}/v1`),
    stop: () => child.stop(),
  }
}

export function parleyEnv(
  port: number,
  storage: ParleyStorage,
  upstreamUrl: string,
): Record<string, string | undefined> {
  return {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: storage.kind === 'postgres' ? storage.url : '',
    PARLEY_DATA_DIR: storage.kind === 'pglite' ? storage.dataDir : '',
    PARLEY_PROVIDER: 'openai-responses',
    OPENAI_API_KEY: 'bench-key',
    OPENAI_BASE_URL: upstreamUrl,
    PARLEY_MODEL: MODEL,
    PARLEY_AUTH: 'local',
    // Request logs at `info` would measure the log sink, not the server; errors still show.
    PARLEY_LOG_LEVEL: 'warn',
    // The load is one user's on purpose: per-user limits off, or they would be what is measured.
    PARLEY_RATE_LIMIT_PER_MIN: '0',
    PARLEY_MAX_STREAMS_PER_USER: '0',
    NODE_ENV: 'production',
  }
}

/** A temporary directory removed by `cleanup()`. */
export function tempDir(prefix: string): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) }
}
