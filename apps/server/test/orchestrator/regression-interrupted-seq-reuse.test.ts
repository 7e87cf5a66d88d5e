import { eventId, type TurnEvent, TurnSettings } from '@parley/core'
import { textStep } from '@parley/providers/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { collect, engine, openWorld, requestId, type World } from './harness.ts'

/**
 * Regression: a process delivers events live before its batch reaches the log. When it dies,
 * the unflushed tail is lost and the lease sweep writes `turn.interrupted` at the next free
 * seq — a seq the client may already have seen as a text delta. A client resuming after that
 * seq used to get nothing at all (attach ended silently); it must get the terminal event.
 */
describe('regression: interrupted event reusing a seq the client saw live', () => {
  let world: World
  beforeAll(async () => {
    world = await openWorld()
  }, 60_000)
  afterAll(async () => {
    await world.close()
  })

  /** A turn whose process died after flushing `flushed` events; the sweep has run. */
  async function deadTurn(flushed: number) {
    const conversation = await world.conversation()
    const claim = await world.stores.turns.claim({
      userId: world.userId,
      conversationId: conversation.id,
      requestId: requestId(),
      fingerprint: 'f',
      parentTurnId: null,
      input: [
        { type: 'message', role: 'user', status: 'completed', content: [{ type: 'input_text', text: 'hi' }] },
      ],
      inputTokenCounts: [1],
      provider: 'scripted',
      model: 'parley-demo',
      instructions: null,
      settings: TurnSettings.parse({}),
      leaseMs: 50,
      setHead: true,
    })
    if (claim.status !== 'claimed') throw new Error(`unexpected claim ${claim.status}`)
    const turnId = claim.turn.id
    expect(await world.stores.turns.markStreaming(turnId, 50)).toBe(true)
    const events: TurnEvent[] = [
      { type: 'turn.started', turn: claim.turn, id: eventId(turnId, 1), turnId, seq: 1 },
      {
        type: 'item.started',
        itemId: 'item_aaaaaaaaaaaaaaaa',
        itemType: 'message',
        id: eventId(turnId, 2),
        turnId,
        seq: 2,
      },
    ]
    await world.stores.events.append(events.slice(0, flushed))
    await new Promise((resolve) => setTimeout(resolve, 120))
    const survivor = await engine(world.stores, { steps: [textStep('unused')] })
    return { turnId, survivor }
  }

  it('a client that saw the seq the sweep reused gets turn.interrupted, not silence', async () => {
    // Live, the client saw 1 turn.started, 2 item.started, 3 text.delta; only 1–2 were flushed.
    const { turnId, survivor } = await deadTurn(2)
    const logged = await world.stores.events.readAfter(turnId, 0)
    expect(logged.map((event) => [event.seq, event.type])).toEqual([
      [1, 'turn.started'],
      [2, 'item.started'],
      [3, 'turn.interrupted'],
    ])
    const resumed = await collect(survivor.orchestrator.attach(world.userId, turnId, 3))
    expect(resumed.map((event) => event.type)).toEqual(['turn.interrupted'])
    expect(resumed[0]?.seq).toBe(4)
    await survivor.stop()
  })

  it('a client that saw more than was flushed also gets the terminal event', async () => {
    const { turnId, survivor } = await deadTurn(1)
    const resumed = await collect(survivor.orchestrator.attach(world.userId, turnId, 7))
    expect(resumed.map((event) => [event.seq, event.type])).toEqual([[8, 'turn.interrupted']])
    await survivor.stop()
  })
})
