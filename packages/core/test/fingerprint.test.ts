import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalJson, requestFingerprint, sha256Hex } from '../src/orchestrator/fingerprint.ts'

describe('request fingerprint', () => {
  it('is SHA-256 of the canonical JSON', async () => {
    expect(await sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })

  it('ignores key order and undefined members', async () => {
    const a = await requestFingerprint({ b: 1, a: { y: [1, { q: 2, p: 1 }], x: 'x' }, c: undefined })
    const b = await requestFingerprint({ a: { x: 'x', y: [1, { p: 1, q: 2 }] }, b: 1 })
    expect(a).toBe(b)
    expect(a).toMatch(/^[0-9a-f]{64}$/)
  })

  it('changes with any value', async () => {
    const base = { conversationId: 'conv_1', input: [{ type: 'message', text: 'hi' }], model: null }
    const variants = [
      { ...base, conversationId: 'conv_2' },
      { ...base, input: [{ type: 'message', text: 'hi!' }] },
      { ...base, model: 'gpt' },
      { ...base, parentTurnId: 'resp_1' },
    ]
    const prints = await Promise.all([base, ...variants].map(requestFingerprint))
    expect(new Set(prints).size).toBe(prints.length)
  })

  it('is stable under key shuffling of arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const shuffled = JSON.parse(JSON.stringify(value, (_key, entry) => reverseKeys(entry)))
        expect(canonicalJson(shuffled)).toBe(canonicalJson(value))
      }),
    )
  })
})

function reverseKeys(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value
  return Object.fromEntries(Object.entries(value).reverse())
}
