import type { TurnEvent } from '@parley/core'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalBus, NOTIFY_CHANNEL, type PersistentStores } from '../src/index.ts'
import { claimInput, type Harness, openHarness, textEvent, until } from './harness.ts'

describe('LocalBus', () => {
  it('fans out per turn, survives a throwing listener and stops after unsubscribe', () => {
    const bus = new LocalBus()
    const got: number[] = []
    bus.subscribe('resp_aaaaaaaaaaaa', () => {
      throw new Error('listener bug')
    })
    const stop = bus.subscribe('resp_aaaaaaaaaaaa', (event) => got.push(event.seq))
    bus.subscribe('resp_bbbbbbbbbbbb', () => got.push(-1))
    bus.publish('resp_aaaaaaaaaaaa', [textEvent('resp_aaaaaaaaaaaa', 1), textEvent('resp_aaaaaaaaaaaa', 2)])
    stop()
    bus.publish('resp_aaaaaaaaaaaa', [textEvent('resp_aaaaaaaaaaaa', 3)])
    expect(got).toEqual([1, 2])
  })
})

describe('NotifyBus across two instances on postgres', () => {
  let harness: Harness
  let a: PersistentStores
  let b: PersistentStores

  beforeAll(async () => {
    harness = await openHarness('postgres')
    a = harness.stores
    const other = await harness.openAnother?.()
    if (!other) throw new Error('needs a second instance')
    b = other
  })
  afterAll(async () => {
    await harness.close()
  })

  async function runningTurn(): Promise<string> {
    const { user } = await a.users.create('bus')
    const conversation = await a.conversations.create(user.id, {})
    const claim = await a.turns.claim(claimInput(user.id, conversation.id))
    if (claim.status !== 'claimed') throw new Error(claim.status)
    return claim.turn.id
  }

  it('delivers every event in order, locally at once and remotely coalesced into few NOTIFYs', async () => {
    const turnId = await runningTurn()
    const listener = postgres(harness.url ?? '', { max: 1 })
    let notifications = 0
    await listener.listen(NOTIFY_CHANNEL, () => notifications++)
    const local: number[] = []
    const remote: number[] = []
    a.bus.subscribe(turnId, (event) => local.push(event.seq))
    b.bus.subscribe(turnId, (event) => remote.push(event.seq))
    for (let seq = 1; seq <= 200; seq++) a.bus.publish(turnId, [textEvent(turnId, seq, 'tok')])
    expect(local).toHaveLength(200)
    await until(() => remote.length >= 200)
    expect(remote).toEqual(Array.from({ length: 200 }, (_, index) => index + 1))
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(notifications).toBeLessThan(20)
    await listener.end({ timeout: 5 })
  })

  it('drops seqs a receiver already delivered', async () => {
    const turnId = await runningTurn()
    const remote: number[] = []
    b.bus.subscribe(turnId, (event) => remote.push(event.seq))
    a.bus.publish(turnId, [textEvent(turnId, 1), textEvent(turnId, 2)])
    await until(() => remote.length >= 2)
    a.bus.publish(turnId, [textEvent(turnId, 2), textEvent(turnId, 3)])
    await until(() => remote.length >= 3)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(remote).toEqual([1, 2, 3])
  })

  it('sends a pointer for batches over the NOTIFY limit; receivers read them from the log', async () => {
    const turnId = await runningTurn()
    const remote: TurnEvent[] = []
    b.bus.subscribe(turnId, (event) => remote.push(event))
    const big = [textEvent(turnId, 1, 'x'.repeat(6000)), textEvent(turnId, 2, 'y'.repeat(6000))]
    a.bus.publish(turnId, big)
    // The log write lands after the NOTIFY, as with the orchestrator's batched appends.
    await new Promise((resolve) => setTimeout(resolve, 60))
    await a.events.append(big)
    await until(() => remote.length >= 2)
    expect(remote.map((event) => [event.seq, event.type === 'text.delta' ? event.delta.length : 0])).toEqual([
      [1, 6000],
      [2, 6000],
    ])
  })

  it('a sweep on one instance ends readers attached to another', async () => {
    const { user } = await a.users.create('swept')
    const conversation = await a.conversations.create(user.id, {})
    const claim = await a.turns.claim(claimInput(user.id, conversation.id, { leaseMs: 0 }))
    if (claim.status !== 'claimed') throw new Error(claim.status)
    const seen: string[] = []
    b.bus.subscribe(claim.turn.id, (event) => seen.push(event.type))
    await new Promise((resolve) => setTimeout(resolve, 10))
    await a.turns.sweepExpired()
    await until(() => seen.length >= 1)
    expect(seen).toEqual(['turn.interrupted'])
  })
})
