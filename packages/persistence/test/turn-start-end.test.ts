import { type TurnEvent, userText } from '@parley/core'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { PersistentStores } from '../src/index.ts'
import {
  asContext,
  assistant,
  claimInput,
  completeTurn,
  DRIVERS,
  type Harness,
  messageTexts,
  openHarness,
  textEvent,
  usage,
} from './harness.ts'

/** A claim that starts its turn (`start`) and a finish that ends its log in the same statement. */
describe.each(DRIVERS)('turns started by their claim and ended with their events on %s', (driver) => {
  let harness: Harness
  let userId: string
  const stores = () => harness.stores

  beforeAll(async () => {
    harness = await openHarness(driver)
    userId = (await stores().users.create('start-end')).user.id
  })
  afterAll(async () => {
    await harness.close()
  })

  const finishInput = (events: TurnEvent[], completedAt?: string) => ({
    status: 'completed' as const,
    output: [assistant('done')],
    outputTokenCounts: [1],
    usage: usage(1, 1),
    ledger: [],
    error: null,
    upstreamResponseId: null,
    truncated: false,
    events,
    ...(completedAt ? { completedAt } : {}),
  })

  it("a started claim says its parent's upstream response id, when the parent completed with one", async () => {
    const conversation = await stores().conversations.create(userId, {})
    const claimUnder = async (parentTurnId: string | null, start: boolean, fromHead = false) => {
      const claim = await stores().turns.claim(
        claimInput(userId, conversation.id, {
          parentTurnId,
          ...(fromHead ? { parentFromHead: true } : {}),
          start,
          input: [userText('next')],
        }),
      )
      if (claim.status !== 'claimed') throw new Error(`expected claimed, got ${claim.status}`)
      return claim
    }
    const root = await claimUnder(null, true)
    // A root has no parent to continue from.
    expect(root.parentUpstreamResponseId).toBeNull()
    await stores().turns.finish(root.turn.id, { ...finishInput([]), upstreamResponseId: 'up_root' })

    const child = await claimUnder(root.turn.id, true)
    expect(child.parentUpstreamResponseId).toBe('up_root')
    await stores().turns.finish(child.turn.id, {
      ...finishInput([]),
      status: 'failed',
      error: { reason: 'provider_error', message: 'no' },
      upstreamResponseId: 'up_failed',
    })
    // A failed parent is no state to continue from; the head (the failed child) is the parent.
    expect((await claimUnder(null, true, true)).parentUpstreamResponseId).toBeNull()
  })

  it('a claim not started says nothing of its parent', async () => {
    const conversation = await stores().conversations.create(userId, {})
    const first = await completeTurn(stores(), userId, conversation.id, null, 'one')
    const claim = await stores().turns.claim(
      claimInput(userId, conversation.id, { parentTurnId: first, input: [userText('two')] }),
    )
    if (claim.status !== 'claimed') throw new Error(`expected claimed, got ${claim.status}`)
    expect(claim.parentUpstreamResponseId).toBeUndefined()
  })

  it('a claim after the head is streaming at once and carries the same context a read gives', async () => {
    const conversation = await stores().conversations.create(userId, {})
    const empty = await stores().turns.claim(
      claimInput(userId, conversation.id, { parentFromHead: true, start: true, input: [userText('first')] }),
    )
    if (empty.status !== 'claimed') throw new Error(`expected claimed, got ${empty.status}`)
    // No head yet: the context is the turn's own input.
    expect(empty.turn.status).toBe('streaming')
    expect(empty.context).toEqual(asContext(empty.input))
    await stores().turns.finish(empty.turn.id, finishInput([]))

    await completeTurn(stores(), userId, conversation.id, empty.turn.id, 'second')
    const third = await stores().turns.claim(
      claimInput(userId, conversation.id, { parentFromHead: true, start: true, input: [userText('third')] }),
    )
    if (third.status !== 'claimed') throw new Error(`expected claimed, got ${third.status}`)
    expect(third.turn.parentTurnId).not.toBeNull()
    expect(messageTexts(third.context ?? [])).toEqual(['first', 'done', 'second', 're: second', 'third'])
    expect(third.context).toEqual(await stores().turns.context(userId, third.turn.id))
    // Running already: a second start of it finds no pending turn.
    expect(await stores().turns.startStreaming(userId, third.turn.id, 60_000)).toBeNull()
  })

  it('a claim without start leaves the turn pending and brings no context', async () => {
    const conversation = await stores().conversations.create(userId, {})
    const claim = await stores().turns.claim(claimInput(userId, conversation.id))
    if (claim.status !== 'claimed') throw new Error(`expected claimed, got ${claim.status}`)
    expect(claim.turn.status).toBe('pending')
    expect(claim.context).toBeUndefined()
  })

  it('the finish appends the given events with the end of the turn, at the given time', async () => {
    const conversation = await stores().conversations.create(userId, {})
    const claim = await stores().turns.claim(claimInput(userId, conversation.id, { start: true }))
    if (claim.status !== 'claimed') throw new Error(`expected claimed, got ${claim.status}`)
    const turnId = claim.turn.id
    await stores().events.append([textEvent(turnId, 1, 'a')])
    const completedAt = new Date(Date.parse(claim.turn.createdAt) + 1234).toISOString()
    const ended = await stores().turns.finish(
      turnId,
      finishInput([textEvent(turnId, 2, 'b'), textEvent(turnId, 3, 'c')], completedAt),
    )
    expect(ended.turn.status).toBe('completed')
    expect(ended.turn.completedAt).toBe(completedAt)
    expect((await stores().turns.get(userId, turnId))?.turn.completedAt).toBe(completedAt)
    const log = await stores().events.readAfter(turnId, 0)
    expect(log.map((event) => event.seq)).toEqual([1, 2, 3])
    expect(log[2]).toEqual(textEvent(turnId, 3, 'c'))
  })

  it('a finish that changes nothing (the turn had ended) writes none of its events', async () => {
    const conversation = await stores().conversations.create(userId, {})
    const claim = await stores().turns.claim(claimInput(userId, conversation.id, { start: true }))
    if (claim.status !== 'claimed') throw new Error(`expected claimed, got ${claim.status}`)
    const turnId = claim.turn.id
    await stores().turns.finish(turnId, finishInput([textEvent(turnId, 1)]))
    const again = await stores().turns.finish(turnId, {
      ...finishInput([textEvent(turnId, 2), textEvent(turnId, 3)]),
      status: 'cancelled',
    })
    expect(again.turn.status).toBe('completed')
    expect((await stores().events.readAfter(turnId, 0)).map((event) => event.seq)).toEqual([1])
  })

  it('refuses events of another turn and a malformed end time, storing nothing', async () => {
    const conversation = await stores().conversations.create(userId, {})
    const claim = await stores().turns.claim(claimInput(userId, conversation.id, { start: true }))
    if (claim.status !== 'claimed') throw new Error(`expected claimed, got ${claim.status}`)
    const turnId = claim.turn.id
    const other = await completeTurn(
      stores(),
      userId,
      (await stores().conversations.create(userId, {})).id,
      null,
      'x',
    )
    await expect(stores().turns.finish(turnId, finishInput([textEvent(other, 1)]))).rejects.toMatchObject({
      reason: 'validation',
    })
    await expect(stores().turns.finish(turnId, finishInput([], 'yesterday-ish'))).rejects.toMatchObject({
      reason: 'validation',
    })
    expect((await stores().turns.get(userId, turnId))?.turn.status).toBe('streaming')
    expect(await stores().events.readAfter(turnId, 0)).toEqual([])
  })

  /** Claims a started turn after the head and ends it; returns the claim. */
  async function startAndEnd(store: PersistentStores, conversationId: string, text: string) {
    const claim = await store.turns.claim(
      claimInput(userId, conversationId, { parentFromHead: true, start: true, input: [userText(text)] }),
    )
    if (claim.status !== 'claimed') throw new Error(`expected claimed, got ${claim.status}`)
    await store.turns.finish(claim.turn.id, { ...finishInput([]), output: [assistant(`re: ${text}`)] })
    return claim
  }

  it('the next turn after one that ended here starts from the chain kept in memory', async () => {
    const conversation = await stores().conversations.create(userId, {})
    await startAndEnd(stores(), conversation.id, 'one')
    await startAndEnd(stores(), conversation.id, 'two')
    // Items never change; changing one behind the store's back shows which read was used.
    await stores().db.execute(
      sql`update items set body = 'uchanged'
          where conversation_id = ${conversation.id} and seq = 1`,
    )
    const three = await startAndEnd(stores(), conversation.id, 'three')
    expect(messageTexts(three.context ?? [])).toEqual(['one', 're: one', 'two', 're: two', 'three'])
    expect(messageTexts(await stores().turns.context(userId, three.turn.id))).toEqual([
      'changed',
      're: one',
      'two',
      're: two',
      'three',
    ])
  })

  it('another continuation of the same response starts from the chain its first one read', async () => {
    const conversation = await stores().conversations.create(userId, {})
    // Claimed without `start`: nothing of its chain is kept until a claim under it reads it.
    const first = await completeTurn(stores(), userId, conversation.id, null, 'one')
    const underFirst = async (text: string) => {
      const claim = await stores().turns.claim(
        claimInput(userId, conversation.id, {
          parentTurnId: first,
          start: true,
          input: [userText(text)],
        }),
      )
      if (claim.status !== 'claimed') throw new Error(`expected claimed, got ${claim.status}`)
      await stores().turns.finish(claim.turn.id, finishInput([]))
      return claim
    }
    await underFirst('branch a')
    await stores().db.execute(
      sql`update items set body = 'uchanged'
          where conversation_id = ${conversation.id} and seq = 1`,
    )
    const b = await underFirst('branch b')
    expect(messageTexts(b.context ?? [])).toEqual(['one', 're: one', 'branch b'])
  })

  it('a chain kept in memory is not used once the conversation moved on elsewhere or its turn never ended here', async () => {
    const conversation = await stores().conversations.create(userId, {})
    const first = await startAndEnd(stores(), conversation.id, 'one')
    // Another instance adds a turn (on Postgres: PGlite is one process’s own database).
    const other = harness.openAnother ? await harness.openAnother() : null
    if (other) {
      await startAndEnd(other, conversation.id, 'elsewhere')
      const next = await startAndEnd(stores(), conversation.id, 'back')
      expect(messageTexts(next.context ?? [])).toEqual([
        'one',
        're: one',
        'elsewhere',
        're: elsewhere',
        'back',
      ])
      expect(next.context).toEqual(await stores().turns.context(userId, next.turn.id))
    }
    // A started turn whose lease runs out is ended by the sweep, not by this store's finish.
    const lost = await stores().turns.claim(
      claimInput(userId, conversation.id, { parentFromHead: true, start: true, leaseMs: 1 }),
    )
    if (lost.status !== 'claimed') throw new Error(`expected claimed, got ${lost.status}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
    await stores().turns.sweepExpired()
    const after = await startAndEnd(stores(), conversation.id, 'after the sweep')
    expect(after.turn.parentTurnId).toBe(lost.turn.id)
    expect(after.context).toEqual(await stores().turns.context(userId, after.turn.id))
    expect(first.turn.id).not.toBe(after.turn.id)
  })

  it('a sweep leaves alone the expired turns its caller says it is running', async () => {
    const claimExpiring = async () => {
      const conversation = await stores().conversations.create(userId, {})
      const claim = await stores().turns.claim(
        claimInput(userId, conversation.id, { start: true, leaseMs: 1 }),
      )
      if (claim.status !== 'claimed') throw new Error(`expected claimed, got ${claim.status}`)
      return claim.turn.id
    }
    const mine = await claimExpiring()
    const orphan = await claimExpiring()
    await new Promise((resolve) => setTimeout(resolve, 20))
    const swept = await stores().turns.sweepExpired([mine])
    expect(swept.map((turn) => turn.id)).toContain(orphan)
    expect(swept.map((turn) => turn.id)).not.toContain(mine)
    expect((await stores().turns.get(userId, mine))?.turn.status).toBe('streaming')
    expect((await stores().turns.sweepExpired()).map((turn) => turn.id)).toEqual([mine])
  })

  it('conversationOf names the conversation of a turn, and nothing once it is deleted or unknown', async () => {
    const conversation = await stores().conversations.create(userId, {})
    const turnId = await completeTurn(stores(), userId, conversation.id, null, 'where am I')
    expect(await stores().turns.conversationOf(userId, turnId)).toBe(conversation.id)
    expect(await stores().turns.conversationOf(userId, 'resp_unknown0000000000000')).toBeNull()
    expect(await stores().turns.conversationOf(userId, 'not an id')).toBeNull()
    await stores().conversations.delete(userId, conversation.id)
    expect(await stores().turns.conversationOf(userId, turnId)).toBeNull()
  })
})
