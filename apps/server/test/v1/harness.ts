import { createProvider } from '@parley/providers'
import { type FakeUpstream, startFakeUpstream } from '@parley/providers/fake-upstream'
import OpenAI from 'openai'
import { createParleyServer, type ParleyServer } from '../../src/index.ts'

export type Adapter = 'openai-responses' | 'openai-chat'
export const ADAPTERS: Adapter[] = ['openai-responses', 'openai-chat']

export interface V1Setup extends AsyncDisposable {
  server: ParleyServer
  upstream: FakeUpstream
  /** The official SDK, pointed at Parley's `/v1` with Alice's key. */
  client: OpenAI
  apiKey: string
  /** Another user's SDK client. */
  other: OpenAI
  base: string
  /** A raw request to `/v1…` as Alice. */
  fetchV1(path: string, init?: RequestInit): Promise<Response>
}

/**
 * Parley (keys auth, in-memory PGlite) in front of the fake OpenAI upstream, through the given
 * adapter; the SDK clients do not retry, so every upstream call a test counts is one it caused.
 */
export async function startV1(adapter: Adapter, options: { nativeState?: boolean } = {}): Promise<V1Setup> {
  const upstream = await startFakeUpstream({ apiKey: 'sk-upstream', tokens: 5 })
  const provider = createProvider({
    kind: adapter,
    apiKey: 'sk-upstream',
    baseURL: upstream.url,
    model: 'gpt-fake',
    ...(options.nativeState === undefined ? {} : { nativeState: options.nativeState }),
    retry: { maxRetries: 0 },
  })
  const server = await createParleyServer({ webRoot: null, auth: 'keys', logLevel: 'silent' }, { provider })
  const alice = await server.stores.users.create('alice')
  const bob = await server.stores.users.create('bob')
  const base = `${server.url}/v1`
  const sdk = (apiKey: string) => new OpenAI({ apiKey, baseURL: base, maxRetries: 0, timeout: 20_000 })
  return {
    server,
    upstream,
    client: sdk(alice.apiKey),
    other: sdk(bob.apiKey),
    apiKey: alice.apiKey,
    base,
    fetchV1: (path, init = {}) =>
      fetch(`${base}${path}`, {
        ...init,
        headers: {
          authorization: `Bearer ${alice.apiKey}`,
          'content-type': 'application/json',
          ...init.headers,
        },
      }),
    async [Symbol.asyncDispose]() {
      await server.close()
      await upstream.stop()
    },
  }
}

export interface SseFrame {
  raw: string
  event: string | null
  data: string
}

/** Reads an SSE body frame by frame, exactly as written (no SDK in between). */
export async function readFrames(response: Response): Promise<SseFrame[]> {
  const text = await response.text()
  return text
    .split('\n\n')
    .filter((raw) => raw.length > 0 && !raw.startsWith(':'))
    .map((raw) => {
      const lines = raw.split('\n')
      const event = lines.find((line) => line.startsWith('event: '))?.slice('event: '.length) ?? null
      const data = lines
        .filter((line) => line.startsWith('data: '))
        .map((line) => line.slice('data: '.length))
        .join('\n')
      return { raw, event, data }
    })
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls until `check` returns a value (or throws after `timeoutMs`). */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(20)
  }
}
