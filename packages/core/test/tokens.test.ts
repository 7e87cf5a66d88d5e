import { beforeAll, describe, expect, it } from 'vitest'
import { userText } from '../src/contracts/items.ts'
import { ITEM_OVERHEAD_TOKENS, tokenCounter } from '../src/tokens.ts'

describe('token counting', () => {
  // Parsing the 2 MB rank table takes seconds on a busy machine: once, outside the tests' timeout.
  beforeAll(() => tokenCounter(), 60_000)

  it('counts with o200k_base and adds item overhead', async () => {
    const counter = await tokenCounter()
    expect(counter.count('hello world')).toBe(2)
    expect(counter.countItem(userText('hello world'))).toBe(2 + ITEM_OVERHEAD_TOKENS)
  })

  it('stays fast on pathological input (long runs without spaces)', async () => {
    const counter = await tokenCounter()
    const started = performance.now()
    const tokens = counter.count('a'.repeat(200_000))
    expect(performance.now() - started).toBeLessThan(2000)
    expect(tokens).toBeGreaterThan(10_000)
    expect(tokens).toBeLessThan(200_000)
  })
})
