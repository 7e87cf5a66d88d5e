import { getEventListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import { releasingIterable, UserLimits } from '../src/limits/index.ts'

// Leaks the soak found: per-stream state that outlived the stream. Each test would fail before
// its fix.

async function* count(n: number) {
  for (let i = 0; i < n; i++) yield i
}

/** Like tRPC's request signal: composite, which Node pins while it has an abort listener. */
function requestSignal() {
  const controller = new AbortController()
  return { controller, signal: AbortSignal.any([controller.signal]) }
}

describe('a stream slot leaves nothing on the request signal', () => {
  it('when the iteration completes', async () => {
    const limits = new UserLimits({ ratePerMinute: 0, maxStreamsPerUser: 5 })
    const { signal } = requestSignal()
    const items: number[] = []
    for await (const item of releasingIterable(count(3), limits.openStream('u'), signal)) items.push(item)
    expect(items).toEqual([0, 1, 2])
    expect(limits.streams('u')).toBe(0)
    expect(getEventListeners(signal, 'abort')).toHaveLength(0)
  })

  it('when the client leaves early or the iteration throws', async () => {
    const limits = new UserLimits({ ratePerMinute: 0, maxStreamsPerUser: 5 })
    const early = requestSignal()
    for await (const item of releasingIterable(count(3), limits.openStream('u'), early.signal)) {
      if (item === 0) break
    }
    async function* failing() {
      yield 1
      throw new Error('boom')
    }
    const failed = requestSignal()
    await expect(async () => {
      for await (const _ of releasingIterable(failing(), limits.openStream('u'), failed.signal)) {
        // drain
      }
    }).rejects.toThrow('boom')
    expect(limits.streams('u')).toBe(0)
    expect(getEventListeners(early.signal, 'abort')).toHaveLength(0)
    expect(getEventListeners(failed.signal, 'abort')).toHaveLength(0)
  })

  it('an iterable never started still frees its slot when the request aborts', () => {
    const limits = new UserLimits({ ratePerMinute: 0, maxStreamsPerUser: 5 })
    const { controller, signal } = requestSignal()
    releasingIterable(count(3), limits.openStream('u'), signal)
    expect(limits.streams('u')).toBe(1)
    controller.abort()
    expect(limits.streams('u')).toBe(0)
    expect(getEventListeners(signal, 'abort')).toHaveLength(0)
  })
})
