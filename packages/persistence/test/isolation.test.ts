import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { claimInput, completeTurn, DRIVERS, type Harness, openHarness } from './harness.ts'

/** Another user's ids must answer exactly like unknown ids: per read, per write. */
describe.each(DRIVERS)('user isolation on %s', (driver) => {
  let harness: Harness
  let owner: string
  let intruder: string
  let conversationId: string
  let turnId: string
  let itemId: string
  let requestId: string
  let keyPrefix: string

  beforeAll(async () => {
    harness = await openHarness(driver)
    const { stores } = harness
    const created = await stores.users.create('owner')
    owner = created.user.id
    keyPrefix = created.apiKey.slice(0, 11)
    intruder = (await stores.users.create('intruder')).user.id
    const conversation = await stores.conversations.create(owner, { title: 'Secret plans' })
    conversationId = conversation.id
    const first = await completeTurn(stores, owner, conversationId, null, 'secret', { ledgerId: 'iso-1' })
    turnId = await completeTurn(stores, owner, conversationId, first, 'more secret')
    const turn = await stores.turns.get(owner, turnId)
    itemId = turn?.input[0]?.id ?? ''
    requestId = turn?.turn.requestId ?? ''
  })
  afterAll(async () => {
    await harness.close()
  })

  const stores = () => harness.stores
  const today = () => ({ from: new Date(Date.now() - 86_400_000), to: new Date(Date.now() + 86_400_000) })

  it('the owner sees the data (so the checks below can fail)', async () => {
    expect(await stores().conversations.get(owner, conversationId)).not.toBeNull()
    expect((await stores().conversations.list(owner, {})).data).toHaveLength(1)
    expect((await stores().conversations.list(owner, { search: 'secret' })).data).toHaveLength(1)
    expect(await stores().turns.get(owner, turnId)).not.toBeNull()
    expect(await stores().turns.getByRequestId(owner, requestId)).not.toBeNull()
    expect(await stores().turns.context(owner, turnId)).toHaveLength(3)
    expect((await stores().turns.branch(owner, conversationId, {})).data).toHaveLength(2)
    expect(await stores().turns.lastResponseId(owner, conversationId)).toBe(turnId)
    expect(await stores().turns.conversationOf(owner, turnId)).toBe(conversationId)
    expect(await stores().usage.totals(owner, today())).toHaveLength(1)
  })

  it('conversations.get', async () => {
    expect(await stores().conversations.get(intruder, conversationId)).toBeNull()
  })
  it('conversations.list (with and without search)', async () => {
    expect((await stores().conversations.list(intruder, {})).data).toEqual([])
    expect((await stores().conversations.list(intruder, { search: 'secret' })).data).toEqual([])
  })
  it('conversations.update', async () => {
    expect(await stores().conversations.update(intruder, conversationId, { title: 'pwned' })).toBeNull()
    expect((await stores().conversations.get(owner, conversationId))?.title).toBe('Secret plans')
  })
  it('conversations.delete', async () => {
    expect(await stores().conversations.delete(intruder, conversationId)).toBe(false)
    expect(await stores().conversations.get(owner, conversationId)).not.toBeNull()
  })
  it('conversations.setHead', async () => {
    expect(await stores().conversations.setHead(intruder, conversationId, turnId)).toBeNull()
    const own = await stores().conversations.create(intruder, {})
    expect(await stores().conversations.setHead(intruder, own.id, turnId)).toBeNull()
  })
  it('conversations.fork', async () => {
    expect(await stores().conversations.fork(intruder, conversationId, itemId)).toBeNull()
    expect(
      (await stores().conversations.list(intruder, {})).data.every((c) => c.title !== 'Secret plans'),
    ).toBe(true)
  })
  it('turns.get, getByRequestId and fingerprintOf', async () => {
    expect(await stores().turns.get(intruder, turnId)).toBeNull()
    expect(await stores().turns.getByRequestId(intruder, requestId)).toBeNull()
    expect(await stores().turns.fingerprintOf(intruder, turnId)).toBeNull()
    expect(await stores().turns.fingerprintOf(owner, turnId)).toMatch(/\S/)
  })
  it('turns.context', async () => {
    expect(await stores().turns.context(intruder, turnId)).toEqual([])
  })
  it('turns.branch', async () => {
    expect(await stores().turns.branch(intruder, conversationId, {})).toEqual({ data: [], nextCursor: null })
  })
  it('turns.lastResponseId', async () => {
    expect(await stores().turns.lastResponseId(intruder, conversationId)).toBeNull()
  })
  it('turns.conversationOf', async () => {
    expect(await stores().turns.conversationOf(intruder, turnId)).toBeNull()
  })
  it('turns.claim into another user’s conversation or onto their turn', async () => {
    expect(await stores().turns.claim(claimInput(intruder, conversationId))).toEqual({ status: 'not_found' })
    const own = await stores().conversations.create(intruder, {})
    expect(await stores().turns.claim(claimInput(intruder, own.id, { parentTurnId: turnId }))).toEqual({
      status: 'not_found',
    })
    // Started at once, the claim reads the parent's chain: it must still refuse the foreign parent.
    expect(
      await stores().turns.claim(claimInput(intruder, own.id, { parentTurnId: turnId, start: true })),
    ).toEqual({ status: 'not_found' })
  })
  it('the same request id is a separate key per user', async () => {
    const own = await stores().conversations.create(intruder, {})
    const claim = await stores().turns.claim(claimInput(intruder, own.id, { requestId }))
    expect(claim.status).toBe('claimed')
  })
  it('usage.totals', async () => {
    expect(await stores().usage.totals(intruder, today())).toEqual([])
  })
  it('users.revokeKey', async () => {
    expect(await stores().users.revokeKey(intruder, keyPrefix)).toBe(false)
  })
})
