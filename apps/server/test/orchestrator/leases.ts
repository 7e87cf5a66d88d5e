import type { Stores, TurnStore } from '@parley/core'
import { textStep } from '@parley/providers/testing'
import { beforeAll, describe, expect, it } from 'vitest'
import { collect, engine, ledgerRows, requestId, type World } from './harness.ts'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A process whose lease renewals stop reaching the database (frozen, then back). */
function freezable(stores: Stores) {
  const state = { frozen: true }
  const turns = new Proxy(stores.turns, {
    get(target, key) {
      if (key === 'renewLease') {
        return (turnId: string, leaseMs: number) =>
          state.frozen ? Promise.resolve(true) : target.renewLease(turnId, leaseMs)
      }
      const value = Reflect.get(target, key, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  }) satisfies TurnStore
  return { stores: { ...stores, turns }, state }
}

/** Lease renewal, expiry and drain; registered by orchestrator.test.ts on its database. */
export function leaseTests(current: () => World): void {
  describe('leases', () => {
    let world: World
    beforeAll(() => {
      world = current()
    })
    it('an expired lease becomes interrupted, and a retry of its request replays that without a provider call', async () => {
      const { stores, state } = freezable(world.stores)
      // The dying process: its model hangs before the first token and its renewals never land.
      const dying = await engine(
        { ...stores, bus: world.stores.bus },
        { steps: [textStep('never said', { delayMs: 60_000 })] },
        { leaseMs: 300, sweepIntervalMs: 60_000 },
      )
      const conversation = await world.conversation()
      const send = { requestId: requestId(), conversationId: conversation.id, input: 'hello?' }
      const { turn } = await dying.orchestrator.send(world.userId, send)
      for await (const event of dying.orchestrator.attach(world.userId, turn.id, 0)) {
        if (event.type === 'turn.started') break
      }
      await sleep(450)

      // A fresh instance sweeps on start.
      const survivor = await engine(world.stores, { steps: [textStep('should not be called')] })
      const interrupted = await survivor.orchestrator.get(world.userId, turn.id)
      expect(interrupted.turn).toMatchObject({ status: 'interrupted', error: { reason: 'interrupted' } })
      const events = await collect(survivor.orchestrator.attach(world.userId, turn.id, 0))
      expect(events.map((event) => event.type)).toEqual(['turn.started', 'turn.interrupted'])

      const retry = await survivor.orchestrator.send(world.userId, send)
      expect(retry).toMatchObject({ replayed: true, turn: { id: turn.id, status: 'interrupted' } })
      expect(survivor.model.callCount).toBe(0)

      // The frozen process wakes up: its next renewal fails, and it stores nothing over the sweep.
      state.frozen = false
      for (let waited = 0; dying.orchestrator.runningTurns > 0 && waited < 5000; waited += 20) await sleep(20)
      expect(dying.orchestrator.runningTurns).toBe(0)
      expect((await survivor.orchestrator.get(world.userId, turn.id)).turn.status).toBe('interrupted')
      expect(await ledgerRows(world.stores, turn.id)).toHaveLength(0)
      expect(dying.model.callCount).toBe(1)
      await dying.stop()
      await survivor.stop()
    })

    it('its own sweep leaves a run alone that is late to renew: the process is alive, only loaded', async () => {
      const { stores } = freezable(world.stores)
      const late = await engine(
        { ...stores, bus: world.stores.bus },
        { steps: [textStep('one two three four five six seven eight', { delayMs: 60 })] },
        { leaseMs: 150, sweepIntervalMs: 40 },
      )
      const conversation = await world.conversation()
      const { turn } = await late.orchestrator.send(world.userId, {
        requestId: requestId(),
        conversationId: conversation.id,
        input: 'no renewals land',
      })
      const events = await collect(late.orchestrator.attach(world.userId, turn.id, 0))
      // Its lease expired several times over (480 ms of deltas, 150 ms lease, no renewal).
      expect(events.at(-1)?.type).toBe('turn.completed')
      expect((await late.orchestrator.get(world.userId, turn.id)).turn.status).toBe('completed')
      await late.stop()
    })

    it('a running turn renews its lease and outlives many lease periods', async () => {
      const slow = await engine(
        world.stores,
        { steps: [textStep('one two three four five six seven eight', { delayMs: 60 })] },
        { leaseMs: 150, sweepIntervalMs: 40 },
      )
      const conversation = await world.conversation()
      const { turn } = await slow.orchestrator.send(world.userId, {
        requestId: requestId(),
        conversationId: conversation.id,
        input: 'slowly',
      })
      const events = await collect(slow.orchestrator.attach(world.userId, turn.id, 0))
      expect(events.at(-1)?.type).toBe('turn.completed')
      await slow.stop()
    })

    it('stop() refuses new sends and waits for running turns', async () => {
      const draining = await engine(world.stores, { steps: [textStep('almost done now', { delayMs: 30 })] })
      const conversation = await world.conversation()
      const { turn } = await draining.orchestrator.send(world.userId, {
        requestId: requestId(),
        conversationId: conversation.id,
        input: 'hi',
      })
      await draining.stop()
      expect((await draining.orchestrator.get(world.userId, turn.id)).turn.status).toBe('completed')
      await expect(
        draining.orchestrator.send(world.userId, {
          requestId: requestId(),
          conversationId: conversation.id,
          input: 'late',
        }),
      ).rejects.toMatchObject({ status: 503 })
    })
  })
}
