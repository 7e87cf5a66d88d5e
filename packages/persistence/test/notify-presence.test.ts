import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NOTIFY_CHANNEL, NotifyBus, type PersistentStores } from '../src/index.ts'
import { claimInput, type Harness, openHarness, textEvent, until } from './harness.ts'

describe('NotifyBus presence on postgres', () => {
  let harness: Harness

  beforeAll(async () => {
    harness = await openHarness('postgres')
  })
  afterAll(async () => {
    await harness.close()
  })

  it('a lone instance sends no NOTIFY; once a second one starts, events reach it live', async () => {
    const a = harness.stores
    const busA = a.bus
    if (!(busA instanceof NotifyBus)) throw new Error('expected the Postgres bus')
    const { user } = await a.users.create('presence')
    const conversation = await a.conversations.create(user.id, {})
    const claim = await a.turns.claim(claimInput(user.id, conversation.id))
    if (claim.status !== 'claimed') throw new Error(claim.status)
    const turnId = claim.turn.id

    const listener = postgres(harness.url ?? '', { max: 1 })
    const heard: string[] = []
    await listener.listen(NOTIFY_CHANNEL, (payload) => heard.push(payload))
    try {
      // The outside listener says nothing, so instance A still knows of no peer.
      expect(busA.hasPeers).toBe(false)
      const local: number[] = []
      const stopLocal = busA.subscribe(turnId, (event) => local.push(event.seq))
      for (let seq = 1; seq <= 20; seq++) busA.publish(turnId, [textEvent(turnId, seq)])
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(local).toHaveLength(20)
      expect(heard).toEqual([])
      stopLocal()

      const b: PersistentStores | undefined = await harness.openAnother?.()
      if (!b) throw new Error('needs a second instance')
      // B's hello on start, and A's answer to it.
      await until(() => busA.hasPeers && b.bus instanceof NotifyBus && b.bus.hasPeers)
      const remote: number[] = []
      b.bus.subscribe(turnId, (event) => remote.push(event.seq))
      for (let seq = 21; seq <= 40; seq++) busA.publish(turnId, [textEvent(turnId, seq)])
      await until(() => remote.length >= 20)
      expect(remote).toEqual(Array.from({ length: 20 }, (_, i) => 21 + i))
      expect(heard.some((payload) => payload.includes(turnId))).toBe(true)
    } finally {
      await listener.end({ timeout: 1 })
    }
  })
})
