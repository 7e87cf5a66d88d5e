import { type Item, userText } from '@parley/core'
import { sql } from 'drizzle-orm'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawRows } from '../src/db.ts'
import type { PersistentStores } from '../src/index.ts'
import {
  assistant,
  claimInput,
  contextByDefinition,
  DRIVERS,
  type Harness,
  messageTexts,
  openHarness,
  usage,
} from './harness.ts'

/** Every (segment, depth) holds one turn, and a turn sits one deeper than its parent. */
async function expectTreeShape(stores: PersistentStores, conversationId: string): Promise<void> {
  const rows = await rawRows<{ bad: number }>(
    stores.db,
    sql`select count(*)::int as bad from turns t left join turns p on p.id = t.parent_turn_id
        where t.conversation_id = ${conversationId}
          and (t.depth <> coalesce(p.depth + 1, 0)
            or (t.segment_id <> t.id and (p.id is null or t.segment_id <> p.segment_id)))`,
  )
  expect(rows[0]?.bad).toBe(0)
}

interface Tree {
  parents: Map<string, string | null>
  itemsByTurn: Map<string, Item[]>
}

let claims = 0

/**
 * Claims a turn under `parentTurnId`, checks the context it starts with, and ends it. Every
 * other turn is claimed started (`start`): its context then comes with the claim itself.
 */
async function addTurn(
  stores: PersistentStores,
  tree: Tree,
  userId: string,
  conversationId: string,
  parentTurnId: string | null,
  outputs: number,
  text: string,
): Promise<string> {
  const start = claims++ % 2 === 0
  const claim = await stores.turns.claim(
    claimInput(userId, conversationId, { parentTurnId, input: [userText(text)], setHead: true, start }),
  )
  if (claim.status !== 'claimed') throw new Error(`expected claimed, got ${claim.status}`)
  const turnId = claim.turn.id
  tree.parents.set(turnId, parentTurnId)
  tree.itemsByTurn.set(turnId, claim.input)
  expect(claim.turn.status).toBe(start ? 'streaming' : 'pending')
  const started = start ? claim.context : await stores.turns.startStreaming(userId, turnId, 60_000)
  expect(started).toEqual(contextByDefinition(turnId, tree.parents, tree.itemsByTurn))
  const output = Array.from({ length: outputs }, (_, index) => assistant(`${text}/${index}`))
  const finished = await stores.turns.finish(turnId, {
    status: outputs === 0 ? 'failed' : 'completed',
    output,
    outputTokenCounts: output.map(() => 1),
    usage: usage(1, outputs),
    ledger: [],
    error: null,
    upstreamResponseId: null,
    truncated: false,
  })
  tree.itemsByTurn.set(turnId, [...finished.input, ...finished.output])
  return turnId
}

describe.each(DRIVERS)('chains by segment on %s', (driver) => {
  let harness: Harness
  const stores = () => harness.stores

  beforeAll(async () => {
    harness = await openHarness(driver)
  })
  afterAll(async () => {
    await harness.close()
  })

  it('agrees with the parent-by-parent definition on trees with branches and regenerations', async () => {
    const { user } = await stores().users.create('property')
    // Each step: a parent (an index into the turns so far, or a new root) and an output count.
    const step = fc.record({ parent: fc.option(fc.nat(), { freq: 8 }), outputs: fc.nat({ max: 2 }) })
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 14 }), async (steps) => {
        const conversation = await stores().conversations.create(user.id, {})
        const tree: Tree = { parents: new Map(), itemsByTurn: new Map() }
        const order: string[] = []
        for (const [index, { parent, outputs }] of steps.entries()) {
          // Half the time the parent is the last turn (a chat), else any turn (an edit or a branch).
          const pick = parent === null || order.length === 0 ? null : parent % (2 * order.length)
          const parentId =
            pick === null ? null : (order[pick < order.length ? pick : order.length - 1] ?? null)
          order.push(await addTurn(stores(), tree, user.id, conversation.id, parentId, outputs, `t${index}`))
        }
        for (const turnId of order) {
          expect(await stores().turns.context(user.id, turnId)).toEqual(
            contextByDefinition(turnId, tree.parents, tree.itemsByTurn),
          )
        }
        // The head's branch, root first, and its last completed turn.
        const head = order[order.length - 1] ?? ''
        const branch: string[] = []
        for (let id: string | null | undefined = head; id; id = tree.parents.get(id)) branch.unshift(id)
        const pages: string[] = []
        let cursor: string | undefined
        do {
          const page = await stores().turns.branch(user.id, conversation.id, { cursor, limit: 3 })
          pages.push(...page.data.map((entry) => entry.turn.id))
          cursor = page.nextCursor ?? undefined
        } while (cursor)
        expect(pages).toEqual(branch)
        const completed = branch.filter((id) =>
          tree.itemsByTurn.get(id)?.some((item) => item.side === 'output'),
        )
        expect(await stores().turns.lastResponseId(user.id, conversation.id)).toBe(completed.at(-1) ?? null)
        await expectTreeShape(stores(), conversation.id)
      }),
      { numRuns: 12 },
    )
  })

  it('keeps contexts right through import, fork, and turns added to both', async () => {
    const { user } = await stores().users.create('forker')
    const imported = await stores().conversations.importConversation(user.id, {
      externalId: `chain-${driver}`,
      title: 'imported',
      metadata: {},
      createdAt: new Date('2024-01-01T00:00:00.000Z'),
      updatedAt: new Date('2024-01-01T00:00:00.000Z'),
      turns: Array.from({ length: 4 }, (_, index) => ({
        input: [userText(`q${index}`)],
        output: [assistant(`a${index}`)],
        createdAt: new Date(Date.UTC(2024, 0, 1, 0, index)),
        model: 'old',
      })),
    })
    const conversationId = imported.conversation.id
    const tree: Tree = { parents: new Map(), itemsByTurn: new Map() }
    const listed = await stores().turns.branch(user.id, conversationId, { limit: 100 })
    expect(listed.data).toHaveLength(4)
    for (const entry of listed.data) {
      tree.parents.set(entry.turn.id, entry.turn.parentTurnId)
      tree.itemsByTurn.set(entry.turn.id, [...entry.input, ...entry.output])
    }
    const [first, second, , last] = listed.data.map((entry) => entry.turn.id)
    if (!first || !second || !last) throw new Error('import lost turns')
    expect(messageTexts(await stores().turns.context(user.id, last))).toEqual([
      'q0',
      'a0',
      'q1',
      'a1',
      'q2',
      'a2',
      'q3',
    ])

    // A regeneration of the second turn and a continuation of the last one, on the import.
    const regenerated = await addTurn(stores(), tree, user.id, conversationId, first, 1, 'regen')
    const continued = await addTurn(stores(), tree, user.id, conversationId, last, 1, 'more')
    for (const turnId of [first, second, last, regenerated, continued]) {
      expect(await stores().turns.context(user.id, turnId)).toEqual(
        contextByDefinition(turnId, tree.parents, tree.itemsByTurn),
      )
    }

    // The head is `continued`; fork at the assistant answer of the third turn.
    const atItem = tree.itemsByTurn.get(listed.data[2]?.turn.id ?? '')?.find((item) => item.side === 'output')
    if (!atItem) throw new Error('no item to fork at')
    const fork = await stores().conversations.fork(user.id, conversationId, atItem.id)
    if (!fork?.headTurnId) throw new Error('fork failed')
    const forkTree: Tree = { parents: new Map(), itemsByTurn: new Map() }
    const forked = await stores().turns.branch(user.id, fork.id, { limit: 100 })
    for (const entry of forked.data) {
      forkTree.parents.set(entry.turn.id, entry.turn.parentTurnId)
      forkTree.itemsByTurn.set(entry.turn.id, [...entry.input, ...entry.output])
    }
    expect(forked.data.map((entry) => entry.turn.id).at(-1)).toBe(fork.headTurnId)
    const onFork = await addTurn(stores(), forkTree, user.id, fork.id, fork.headTurnId, 1, 'fork')
    const context = await stores().turns.context(user.id, onFork)
    expect(context.map((item) => item.turnId)).toEqual([
      ...forked.data.flatMap((entry) => [entry.turn.id, entry.turn.id]),
      onFork,
    ])
    expect(messageTexts(context)).toEqual(['q0', 'a0', 'q1', 'a1', 'q2', 'a2', 'fork'])
    // A regeneration inside the fork branches off its single segment.
    const forkRoot = forked.data[0]?.turn.id ?? ''
    const forkRegen = await addTurn(stores(), forkTree, user.id, fork.id, forkRoot, 1, 'fork-regen')
    expect(await stores().turns.context(user.id, forkRegen)).toEqual(
      contextByDefinition(forkRegen, forkTree.parents, forkTree.itemsByTurn),
    )
    await expectTreeShape(stores(), conversationId)
    await expectTreeShape(stores(), fork.id)
  })
})
