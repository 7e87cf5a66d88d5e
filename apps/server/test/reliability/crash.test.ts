import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startPostgres, type TestPostgres } from '@parley/persistence/testing'
import { type FakeUpstream, startFakeUpstream } from '@parley/providers/fake-upstream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sleep } from '../helpers.ts'
import { crashAndRecover, LEASE_MS, TEXT, WORDS } from './crash-harness.ts'
import { startServerProcess } from './process.ts'

interface Backend {
  name: string
  env(): Record<string, string>
  setup(): Promise<void>
  teardown(): Promise<void>
}

let dataDir = ''
let pg: TestPostgres | null = null
const BACKENDS: Backend[] = [
  {
    name: 'PGlite (data dir)',
    env: () => ({ PARLEY_DATA_DIR: dataDir }),
    setup: async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'parley-crash-'))
    },
    teardown: async () => rmSync(dataDir, { recursive: true, force: true }),
  },
  {
    name: 'Postgres',
    env: () => ({ DATABASE_URL: pg?.url ?? '' }),
    setup: async () => {
      pg = await startPostgres()
    },
    teardown: async () => pg?.stop(),
  },
]

describe.each(BACKENDS)('kill -9 mid-turn on $name', (backend) => {
  let upstream: FakeUpstream

  beforeAll(async () => {
    await backend.setup()
    upstream = await startFakeUpstream()
  })
  afterAll(async () => {
    await upstream.stop()
    await backend.teardown()
  })

  const start = () =>
    startServerProcess({
      ...backend.env(),
      PARLEY_PROVIDER: 'openai-chat',
      OPENAI_BASE_URL: upstream.url,
      OPENAI_API_KEY: 'sk-crash-test',
      PARLEY_LEASE_MS: String(LEASE_MS),
    })

  it('mid-stream: the turn is interrupted, its logged partial replays, the message is stored once', async () => {
    upstream.enqueue({ deltas: WORDS.map((w, i) => (i === 0 ? w : ` ${w}`)), delayMs: 60 })
    const { partial, replayed, seen } = await crashAndRecover(start, upstream, async (deltas) => {
      if (deltas.length < 4) return false
      // Give the batched event log a moment: the promise is "what was durable survives".
      await sleep(400)
      return true
    })
    // What survived is exactly a prefix of what the model said: never more, never garbled.
    expect(replayed.length).toBeGreaterThan(0)
    expect(TEXT.startsWith(replayed)).toBe(true)
    expect(seen.startsWith(replayed) || replayed.startsWith(seen)).toBe(true)
    // The interrupted turn keeps what its log holds as its stored output.
    expect(partial).toBe(replayed)
  }, 120_000)

  it('between claim and first token (upstream stalls): interrupted with nothing, replay calls nothing', async () => {
    upstream.enqueue({ fault: { type: 'stall' } })
    const before = upstream.callCount('chat.completions')
    const { partial, replayed } = await crashAndRecover(
      start,
      upstream,
      () => upstream.callCount('chat.completions') > before,
    )
    expect(partial).toBe('')
    expect(replayed).toBe('')
  }, 120_000)
})
