import { type ContextItem, messageText, userText } from '@parley/core'
import { describe, expect, it } from 'vitest'
import { ChainCache } from '../src/repositories/chain-cache.ts'

const items = (count: number, tag: string): ContextItem[] =>
  Array.from({ length: count }, (_, index) => ({
    body: userText(`${tag} ${index}`),
    turnId: `resp_${tag}`,
    tokenCount: 1,
  }))

describe('ChainCache', () => {
  it('hands out a chain only once its turn ended, with its output after its context', () => {
    const cache = new ChainCache()
    cache.started('conv_a', 'resp_1', items(2, 'a'))
    expect(cache.chainOf('resp_1')).toBeUndefined()
    expect(cache.latestOf('conv_a')).toBeUndefined()
    cache.finished('resp_1', items(1, 'b'))
    expect(cache.chainOf('resp_1')?.map((item) => messageText(item.body))).toEqual(['a 0', 'a 1', 'b 0'])
    expect(cache.latestOf('conv_a')?.turnId).toBe('resp_1')
    // A second finish of the same turn changes nothing.
    cache.finished('resp_1', items(1, 'c'))
    expect(cache.chainOf('resp_1')).toHaveLength(3)
  })

  it('drops the least recently used chains past its bounds, and the latest pointer with them', () => {
    const cache = new ChainCache(2, 10)
    cache.read('conv_a', 'resp_a', items(3, 'a'))
    cache.read('conv_b', 'resp_b', items(3, 'b'))
    expect(cache.chainOf('resp_a')).toBeDefined()
    cache.read('conv_c', 'resp_c', items(3, 'c'))
    // resp_b was used least recently (resp_a was just read).
    expect(cache.chainOf('resp_b')).toBeUndefined()
    expect(cache.size).toEqual({ chains: 2, items: 6 })
    cache.started('conv_d', 'resp_d', items(5, 'd'))
    expect(cache.size.items).toBeLessThanOrEqual(10)
    cache.finished('resp_d', [])
    expect(cache.latestOf('conv_d')?.turnId).toBe('resp_d')
    cache.read('conv_e', 'resp_e', items(9, 'e'))
    expect(cache.latestOf('conv_d')).toBeUndefined()
    // A chain larger than the whole bound is not kept at all.
    cache.read('conv_f', 'resp_f', items(11, 'f'))
    expect(cache.chainOf('resp_f')).toBeUndefined()
  })
})
