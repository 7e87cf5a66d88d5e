import { createStores, type PersistentStores } from '@parley/persistence'
import { startPostgres, type TestPostgres } from '@parley/persistence/testing'
import { textStep } from '@parley/providers/testing'
import fc from 'fast-check'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { Disconnect } from './disconnects.ts'
import {
  collect,
  type Engine,
  engine,
  ledgerRows,
  openWorld,
  reconnectingClient,
  requestId,
  settled,
  streamedText,
  type World,
} from './harness.ts'

vi.setConfig({ testTimeout: 60_000 })

/** Two server instances on one real Postgres: separate pools, LISTEN/NOTIFY between them. */
let postgres: TestPostgres
let world: World
let secondStores: PersistentStores
const engines: Engine[] = []

beforeAll(async () => {
  postgres = await startPostgres()
  world = await openWorld(postgres.url)
  secondStores = await createStores({ url: postgres.url })
}, 120_000)
afterEach(async () => {
  await Promise.all(engines.splice(0).map((running) => running.stop()))
})
afterAll(async () => {
  await secondStores?.close()
  await world?.close()
  await postgres?.stop()
})

async function pair(reply: string, delayMs = 0) {
  const a = await engine(world.stores, { steps: () => textStep(reply, { delayMs }) })
  const b = await engine(secondStores, { steps: () => textStep(reply, { delayMs }) })
  engines.push(a, b)
  return [a, b] as const
}

const REPLY = 'Concurrency is not parallelism, but here both happen at once.'

describe('on Postgres, across two instances', () => {
  it('concurrent duplicates of one request claim it once: one provider call, one ledger row', async () => {
    const [a, b] = await pair(REPLY)
    const conversation = await world.conversation()
    const send = { requestId: requestId(), conversationId: conversation.id, input: 'race' }
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, index) =>
        (index % 2 === 0 ? a : b).orchestrator.send(world.userId, send),
      ),
    )
    expect(results.filter((result) => !result.replayed)).toHaveLength(1)
    expect(new Set(results.map((result) => result.turn.id)).size).toBe(1)
    const turnId = results[0]!.turn.id
    const stored = await settled(world, turnId)
    expect(stored.turn.status).toBe('completed')
    expect(a.model.callCount + b.model.callCount).toBe(1)
    expect(await ledgerRows(world.stores, turnId)).toHaveLength(1)
  })

  it('concurrent different requests on one conversation: one runs, the others are conversation_busy', async () => {
    const [a, b] = await pair(REPLY, 5)
    const conversation = await world.conversation()
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, index) =>
        (index % 2 === 0 ? a : b).orchestrator.send(world.userId, {
          requestId: requestId(),
          conversationId: conversation.id,
          input: `writer ${index}`,
        }),
      ),
    )
    const won = outcomes.filter((outcome) => outcome.status === 'fulfilled')
    const lost = outcomes.filter((outcome) => outcome.status === 'rejected')
    expect(won).toHaveLength(1)
    expect(lost.map((outcome) => (outcome as PromiseRejectedResult).reason.reason)).toEqual(
      Array(7).fill('conversation_busy'),
    )
    await settled(world, (won[0] as PromiseFulfilledResult<{ turn: { id: string } }>).value.turn.id)
    expect(a.model.callCount + b.model.callCount).toBe(1)
  })

  it('a subscriber on the other instance gets the stream live and resumes from its last event', async () => {
    const [a, b] = await pair(REPLY, 10)
    const conversation = await world.conversation()
    const { turn } = await a.orchestrator.send(world.userId, {
      requestId: requestId(),
      conversationId: conversation.id,
      input: 'tell me',
    })
    const firstPart = []
    for await (const event of b.orchestrator.attach(world.userId, turn.id, 0)) {
      firstPart.push(event)
      if (event.type === 'text.delta' && firstPart.length >= 4) break
    }
    const rest = await collect(b.orchestrator.attach(world.userId, turn.id, firstPart.at(-1)!.seq))
    const whole = [...firstPart, ...rest]
    expect(streamedText(whole)).toBe(REPLY)
    expect(whole).toEqual(await collect(a.orchestrator.attach(world.userId, turn.id, 0)))
    expect(b.model.callCount).toBe(0)
  })

  it('a client reconnecting to the other instance at random points assembles the full sequence', async () => {
    const [a, b] = await pair(REPLY, 2)
    await fc.assert(
      fc.asyncProperty(fc.array(Disconnect, { minLength: 1, maxLength: 10 }), async (disconnects) => {
        const conversation = await world.conversation()
        const { turn } = await a.orchestrator.send(world.userId, {
          requestId: requestId(),
          conversationId: conversation.id,
          input: 'again',
        })
        const assembled = await reconnectingClient(b.orchestrator, world.userId, turn.id, disconnects)
        expect(streamedText(assembled)).toBe(REPLY)
        expect(assembled).toEqual(await collect(a.orchestrator.attach(world.userId, turn.id, 0)))
      }),
      { numRuns: 8 },
    )
  })
})
