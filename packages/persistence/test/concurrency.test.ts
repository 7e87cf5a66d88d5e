import { type ClaimResult, newId, userText } from '@parley/core'
import { count, eq } from 'drizzle-orm'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { schema } from '../src/index.ts'
import { assistant, claimInput, completeTurn, type Harness, openHarness, usage } from './harness.ts'

// Races need real concurrent sessions: PGlite has one connection, so these run on Postgres.
describe('concurrency on postgres', () => {
  let harness: Harness

  beforeAll(async () => {
    harness = await openHarness('postgres')
  })
  afterAll(async () => {
    await harness.close()
  })

  async function itemCount(conversationId: string): Promise<number> {
    const [row] = await harness.stores.db
      .select({ n: count() })
      .from(schema.items)
      .where(eq(schema.items.conversationId, conversationId))
    return row?.n ?? -1
  }

  it('100 concurrent claims of one request id: exactly one claimed, no duplicate items', async () => {
    const { stores } = harness
    const other = await harness.openAnother?.()
    if (!other) throw new Error('needs a second instance')
    const { user } = await stores.users.create('racer')
    const conversation = await stores.conversations.create(user.id, {})
    const input = claimInput(user.id, conversation.id, {
      requestId: 'same-request',
      input: [userText('a'), userText('b')],
    })
    // The winner finishes at once, so later duplicates see `completed` and earlier ones `in_flight`.
    const results = await Promise.all(
      Array.from({ length: 100 }, async (_, index): Promise<ClaimResult> => {
        const result = await (index % 2 === 0 ? stores : other).turns.claim(input)
        if (result.status === 'claimed') {
          await stores.turns.finish(result.turn.id, {
            status: 'completed',
            output: [assistant('once')],
            outputTokenCounts: [1],
            usage: usage(1, 1),
            ledger: [
              { provider: 'scripted', model: 'demo', upstreamResponseId: 'race-1', usage: usage(1, 1) },
            ],
            error: null,
            upstreamResponseId: null,
            truncated: false,
          })
        }
        return result
      }),
    )
    const statuses = results.map((result) => result.status)
    expect(statuses.filter((status) => status === 'claimed')).toHaveLength(1)
    expect(statuses.every((status) => ['claimed', 'in_flight', 'completed'].includes(status))).toBe(true)
    const winner = results.find((result) => result.status === 'claimed')
    const ids = new Set(results.map((result) => ('turn' in result ? result.turn.id : null)))
    expect(ids).toEqual(new Set([winner && 'turn' in winner ? winner.turn.id : 'none']))
    expect(await itemCount(conversation.id)).toBe(3)
    const [ledger] = await stores.db
      .select({ n: count() })
      .from(schema.usageLedger)
      .where(eq(schema.usageLedger.userId, user.id))
    expect(ledger?.n).toBe(1)
  })

  it('concurrent claims with different request ids on one conversation: one claimed, the rest busy', async () => {
    const { stores } = harness
    const { user } = await stores.users.create('busy')
    const conversation = await stores.conversations.create(user.id, {})
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, index) =>
        stores.turns.claim(claimInput(user.id, conversation.id, { requestId: `r-${index}` })),
      ),
    )
    const statuses = results.map((result) => result.status)
    expect(statuses.filter((status) => status === 'claimed')).toHaveLength(1)
    expect(
      results.filter((result) => result.status === 'conflict' && result.reason === 'conversation_busy'),
    ).toHaveLength(39)
    expect(await itemCount(conversation.id)).toBe(1)
  })

  it('concurrent claims on many conversations hand out gap-free seqs per conversation', async () => {
    const { stores } = harness
    const { user } = await stores.users.create('seqs')
    const conversations = await Promise.all(
      Array.from({ length: 10 }, () => stores.conversations.create(user.id, {})),
    )
    const claims = await Promise.all(
      conversations.map((conversation) =>
        stores.turns.claim(
          claimInput(user.id, conversation.id, { input: [userText('1'), userText('2'), userText('3')] }),
        ),
      ),
    )
    for (const claim of claims) {
      expect(claim.status).toBe('claimed')
      if (claim.status === 'claimed') expect(claim.input.map((item) => item.seq)).toEqual([1, 2, 3])
    }
  })

  it('concurrent imports of one external id import once', async () => {
    const { stores } = harness
    const { user } = await stores.users.create('importer')
    const input = {
      externalId: 'chatgpt:abc',
      title: 'Imported',
      metadata: {},
      createdAt: new Date('2024-05-01T00:00:00Z'),
      updatedAt: new Date('2024-05-01T00:00:00Z'),
      turns: [
        {
          input: [userText('q')],
          output: [assistant('a')],
          createdAt: new Date('2024-05-01T00:00:00Z'),
          model: 'm',
        },
      ],
    }
    const results = await Promise.all(
      Array.from({ length: 12 }, () => stores.conversations.importConversation(user.id, input)),
    )
    expect(results.filter((result) => result.status === 'imported')).toHaveLength(1)
    expect(new Set(results.map((result) => result.conversation.id)).size).toBe(1)
    expect(await itemCount(results[0]?.conversation.id ?? '')).toBe(2)
  })

  it('a sweep on two instances at once interrupts each expired turn exactly once', async () => {
    const { stores } = harness
    const other = await harness.openAnother?.()
    if (!other) throw new Error('needs a second instance')
    const { user } = await stores.users.create('sweeper')
    const ids: string[] = []
    for (let index = 0; index < 6; index++) {
      const conversation = await stores.conversations.create(user.id, {})
      const claim = await stores.turns.claim(claimInput(user.id, conversation.id, { leaseMs: 0 }))
      if (claim.status === 'claimed') ids.push(claim.turn.id)
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
    const [a, b] = await Promise.all([stores.turns.sweepExpired(), other.turns.sweepExpired()])
    const swept = [...a, ...b].map((turn) => turn.id).filter((id) => ids.includes(id))
    expect(swept.sort()).toEqual([...ids].sort())
    for (const id of ids) {
      const events = await stores.events.readAfter(id, 0)
      expect(events.map((event) => event.type)).toEqual(['turn.interrupted'])
    }
  })
})

describe('placement in the tree on postgres', () => {
  let harness: Harness

  beforeAll(async () => {
    harness = await openHarness('postgres')
  })
  afterAll(async () => {
    await harness.close()
  })

  async function placeOf(turnId: string) {
    const [row] = await harness.stores.db
      .select({ segmentId: schema.turns.segmentId, depth: schema.turns.depth })
      .from(schema.turns)
      .where(eq(schema.turns.id, turnId))
    if (!row) throw new Error(`no turn ${turnId}`)
    return row
  }

  it('a first child whose sibling took the segment after it looked starts a segment of its own', async () => {
    const { stores, url } = harness
    if (!url) throw new Error('needs a url')
    const { user } = await stores.users.create('placer')
    const conversation = await stores.conversations.create(user.id, {})
    const parent = await completeTurn(stores, user.id, conversation.id, null, 'root')
    const parentPlace = await placeOf(parent)
    const client = postgres(url, { max: 1, onnotice: () => {} })
    const sibling = newId('resp')
    let claim: Promise<ClaimResult> | undefined
    try {
      // The sibling holds the parent's segment, uncommitted: the claim cannot see it, picks the
      // same place, and waits on the unique index until the sibling commits.
      await client.begin(async (tx) => {
        await tx`insert into turns (id, user_id, conversation_id, parent_turn_id, segment_id, depth, request_id,
            fingerprint, status, provider, model, settings)
          values (${sibling}, ${user.id}, ${conversation.id}, ${parent}, ${parentPlace.segmentId},
            ${parentPlace.depth + 1}, 'sibling', 'fp', 'completed', 'scripted', 'demo', '{}'::jsonb)`
        // Claimed started: the context then comes from the slower path's own read.
        claim = stores.turns.claim(
          claimInput(user.id, conversation.id, {
            parentTurnId: parent,
            input: [userText('late')],
            start: true,
          }),
        )
        await new Promise((resolve) => setTimeout(resolve, 300))
      })
    } finally {
      await client.end({ timeout: 5 })
    }
    const result = await claim
    if (result?.status !== 'claimed') throw new Error(`expected claimed, got ${result?.status}`)
    expect(await placeOf(result.turn.id)).toEqual({ segmentId: result.turn.id, depth: parentPlace.depth + 1 })
    expect(await placeOf(sibling)).toEqual({ segmentId: parentPlace.segmentId, depth: parentPlace.depth + 1 })
    const context = await stores.turns.context(user.id, result.turn.id)
    expect(context.map((item) => item.turnId)).toEqual([parent, parent, result.turn.id])
    expect(result.turn.status).toBe('streaming')
    expect(result.context).toEqual(context)
  })

  it('children claimed at once under one parent: one continues its segment, all contexts right', async () => {
    const { stores } = harness
    const other = await harness.openAnother?.()
    if (!other) throw new Error('needs a second instance')
    const { user } = await stores.users.create('siblings')
    const conversation = await stores.conversations.create(user.id, {})
    const root = await completeTurn(stores, user.id, conversation.id, null, 'root')
    const parent = await completeTurn(stores, user.id, conversation.id, root, 'parent')
    const parentPlace = await placeOf(parent)
    const children = await Promise.all(
      Array.from({ length: 16 }, async (_, index) => {
        const instance = index % 2 === 0 ? stores : other
        for (;;) {
          const claim = await instance.turns.claim(
            claimInput(user.id, conversation.id, {
              parentTurnId: parent,
              input: [userText(`child ${index}`)],
              setHead: false,
              start: index % 4 < 2,
            }),
          )
          if (claim.status === 'conflict' && claim.reason === 'conversation_busy') continue
          if (claim.status !== 'claimed') throw new Error(`expected claimed, got ${claim.status}`)
          await instance.turns.finish(claim.turn.id, {
            status: 'completed',
            output: [assistant(`answer ${index}`)],
            outputTokenCounts: [1],
            usage: usage(1, 1),
            ledger: [],
            error: null,
            upstreamResponseId: null,
            truncated: false,
          })
          return claim.turn.id
        }
      }),
    )
    const places = await Promise.all(children.map(placeOf))
    expect(places.every((place) => place.depth === parentPlace.depth + 1)).toBe(true)
    expect(places.filter((place) => place.segmentId === parentPlace.segmentId)).toHaveLength(1)
    for (const [index, child] of children.entries()) {
      const context = await stores.turns.context(user.id, child)
      expect(context.map((item) => item.turnId)).toEqual([root, root, parent, parent, child])
      expect(context.at(-1)?.body).toMatchObject({
        content: [{ text: `child ${index}` }],
      })
    }
  })
})
