import { ParleyError, userText } from '@parley/core'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { claimInput, DRIVERS, type Harness, openHarness, textEvent } from './harness.ts'

const MALFORMED = [
  'x',
  "'; drop table turns; --",
  '',
  'conv_',
  'resp_\u0000aaaaaaaa',
  'conv_'.padEnd(500, 'a'),
  '%',
  'item_ä',
]

/** Resolves to the thrown value's reason (or 'ok'); a non-Parley error fails the test. */
async function reasonOf(work: Promise<unknown>): Promise<string> {
  try {
    await work
    return 'ok'
  } catch (error) {
    expect(error).toBeInstanceOf(ParleyError)
    const message = (error as Error).message
    expect(message).not.toMatch(/select|insert|update|relation|syntax|violates|\$\d/i)
    return (error as ParleyError).reason
  }
}

describe.each(DRIVERS)('bad input on %s', (driver) => {
  let harness: Harness
  let userId: string
  let conversationId: string
  let turnId: string

  beforeAll(async () => {
    harness = await openHarness(driver)
    userId = (await harness.stores.users.create('careful')).user.id
    conversationId = (await harness.stores.conversations.create(userId, {})).id
    const claim = await harness.stores.turns.claim(claimInput(userId, conversationId))
    if (claim.status !== 'claimed') throw new Error(claim.status)
    turnId = claim.turn.id
  })
  afterAll(async () => {
    await harness.close()
  })
  const stores = () => harness.stores

  it('rejects NUL characters with a validation error', async () => {
    const s = stores()
    expect(await reasonOf(s.conversations.create(userId, { title: 'a\u0000b' }))).toBe('validation')
    expect(await reasonOf(s.conversations.create(userId, { metadata: { k: '\u0000' } }))).toBe('validation')
    expect(await reasonOf(s.conversations.update(userId, conversationId, { title: '\u0000' }))).toBe(
      'validation',
    )
    expect(await reasonOf(s.conversations.list(userId, { search: '\u0000' }))).toBe('validation')
    expect(await reasonOf(s.users.create('\u0000'))).toBe('validation')
    const other = await s.conversations.create(userId, {})
    expect(
      await reasonOf(s.turns.claim(claimInput(userId, other.id, { input: [userText('a\u0000')] }))),
    ).toBe('validation')
    expect(await reasonOf(s.turns.claim(claimInput(userId, other.id, { requestId: 'r\u0000' })))).toBe(
      'validation',
    )
    expect(await reasonOf(s.turns.appendOutput(turnId, [userText('\u0000')], [1]))).toBe('validation')
    expect(await reasonOf(s.events.append([textEvent(turnId, 1, 'bad\u0000')]))).toBe('validation')
    expect(await reasonOf(s.users.authenticate('pk_\u0000'))).toBe('ok')
    expect(await s.turns.getByRequestId(userId, 'r\u0000')).toBeNull()
  })

  it('rejects oversize content with a validation error', async () => {
    const s = stores()
    expect(await reasonOf(s.conversations.create(userId, { title: 'x'.repeat(513) }))).toBe('validation')
    const tooMany = Object.fromEntries(Array.from({ length: 17 }, (_, index) => [`k${index}`, 'v']))
    expect(await reasonOf(s.conversations.create(userId, { metadata: tooMany }))).toBe('validation')
    const other = await s.conversations.create(userId, {})
    expect(
      await reasonOf(
        s.turns.claim(claimInput(userId, other.id, { input: [userText('x'.repeat(1_000_001))] })),
      ),
    ).toBe('validation')
    expect(
      await reasonOf(
        s.turns.claim(claimInput(userId, other.id, { input: [userText('a')], inputTokenCounts: [] })),
      ),
    ).toBe('validation')
    expect(await reasonOf(s.turns.claim(claimInput(userId, other.id, { requestId: 'r'.repeat(256) })))).toBe(
      'validation',
    )
  })

  it('answers malformed and unknown ids like unknown ids', async () => {
    const s = stores()
    for (const id of [...MALFORMED, 'conv_unknownunknown', 'resp_unknownunknown']) {
      expect(await s.conversations.get(userId, id)).toBeNull()
      expect(await s.conversations.get(id, conversationId)).toBeNull()
      expect(await s.conversations.update(userId, id, { title: 't' })).toBeNull()
      expect(await s.conversations.delete(userId, id)).toBe(false)
      expect(await s.conversations.setHead(userId, conversationId, id)).toBeNull()
      expect(await s.conversations.fork(userId, conversationId, id)).toBeNull()
      expect(await s.turns.get(userId, id)).toBeNull()
      expect(await s.turns.context(userId, id)).toEqual([])
      expect(await s.turns.branch(userId, id, {})).toEqual({ data: [], nextCursor: null })
      expect(await s.turns.lastResponseId(userId, id)).toBeNull()
      expect(await s.turns.markStreaming(id, 1000)).toBe(false)
      expect(await s.turns.renewLease(id, 1000)).toBe(false)
      expect(await s.events.readAfter(id, 0)).toEqual([])
      expect(await s.turns.claim(claimInput(userId, id))).toEqual({ status: 'not_found' })
      expect(await s.users.revokeKey(userId, id)).toBe(false)
      expect(await reasonOf(s.turns.finish(id, finishInput()))).toBe('not_found')
      expect(await reasonOf(s.turns.appendOutput(id, [userText('a')], [1]))).toBe('not_found')
      expect(await reasonOf(s.users.createKey(id))).toBe('not_found')
      expect(await reasonOf(s.conversations.create(id, {}))).toBe('not_found')
    }
    expect(await reasonOf(s.events.append([textEvent('resp_unknownunknown', 1)]))).toBe('not_found')
    // A batch that also names an unknown turn is refused whole: the known turn's event stays out.
    expect(
      await reasonOf(s.events.append([textEvent(turnId, 900), textEvent('resp_unknownunknown', 2)])),
    ).toBe('not_found')
    expect((await s.events.readAfter(turnId, 899)).map((event) => event.seq)).toEqual([])
    expect(await reasonOf(s.events.append([textEvent('x', 1)]))).toBe('validation')
  })

  it('rejects malformed cursors, ranges and seqs with validation errors', async () => {
    const s = stores()
    expect(await reasonOf(s.conversations.list(userId, { cursor: 'garbage' }))).toBe('validation')
    expect(
      await reasonOf(s.conversations.list(userId, { cursor: Buffer.from('[1,2]').toString('base64url') })),
    ).toBe('validation')
    expect(await reasonOf(s.conversations.list(userId, { limit: 0 }))).toBe('validation')
    expect(await reasonOf(s.turns.branch(userId, conversationId, { cursor: "'; drop" }))).toBe('validation')
    expect(await reasonOf(s.events.readAfter(turnId, -1))).toBe('validation')
    expect(await reasonOf(s.usage.totals(userId, { from: new Date('nope'), to: new Date() }))).toBe(
      'validation',
    )
    expect(await reasonOf(s.events.prune(new Date(Number.NaN)))).toBe('validation')
    expect(await reasonOf(s.turns.markStreaming(turnId, -5))).toBe('validation')
  })

  it('never lets a driver error out, whatever string is used as an id', async () => {
    const s = stores()
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 80, unit: 'binary' }), async (id) => {
        for (const work of [
          s.conversations.get(userId, id),
          s.conversations.list(userId, { search: id }),
          s.turns.get(userId, id),
          s.turns.getByRequestId(userId, id),
          s.turns.context(userId, id),
          s.events.readAfter(id, 0),
          s.users.authenticate(id),
        ]) {
          const reason = await reasonOf(work)
          expect(['ok', 'validation']).toContain(reason)
        }
      }),
      { numRuns: 40 },
    )
  })
})

function finishInput() {
  return {
    status: 'completed' as const,
    output: [],
    outputTokenCounts: [],
    usage: null,
    ledger: [],
    error: null,
    upstreamResponseId: null,
    truncated: false,
  }
}
