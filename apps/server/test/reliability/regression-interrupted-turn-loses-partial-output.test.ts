import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type FakeUpstream, startFakeUpstream } from '@parley/providers/fake-upstream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sleep } from '../helpers.ts'
import { crashAndRecover, LEASE_MS, WORDS } from './crash-harness.ts'
import { startServerProcess } from './process.ts'

/**
 * Bug: when a process dies mid-stream, the lease sweep (persistence `TurnRepository.sweep`)
 * marks the turn `interrupted` with the output *items* stored so far. Text streamed before the
 * crash lives only as `text.delta` events in the durable log (the assistant message item is
 * written when the step ends), so the interrupted turn's stored output, its `turn.interrupted`
 * event and every later context lose text that the event log holds. DESIGN.md: an interrupted
 * turn "keeps what was produced until then".
 */
describe('regression: an interrupted turn loses its streamed partial output', () => {
  let upstream: FakeUpstream
  let dataDir = ''

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'parley-regression-'))
    upstream = await startFakeUpstream()
  })
  afterAll(async () => {
    await upstream.stop()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('stores the text the event log holds as the interrupted turn output', async () => {
    upstream.enqueue({ deltas: WORDS.map((w, i) => (i === 0 ? w : ` ${w}`)), delayMs: 60 })
    const start = () =>
      startServerProcess({
        PARLEY_DATA_DIR: dataDir,
        PARLEY_PROVIDER: 'openai-chat',
        OPENAI_BASE_URL: upstream.url,
        OPENAI_API_KEY: 'sk-regression',
        PARLEY_LEASE_MS: String(LEASE_MS),
      })
    const { partial, replayed } = await crashAndRecover(start, upstream, async (deltas) => {
      if (deltas.length < 4) return false
      await sleep(400)
      return true
    })
    expect(replayed.length).toBeGreaterThan(0)
    expect(partial).toBe(replayed)
  }, 120_000)
})
