import { assistantText, userText } from '@parley/core'
import { sql } from 'drizzle-orm'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawRows } from '../src/db.ts'
import { createStores, type PersistentStores } from '../src/index.ts'
import { claimInput, type Harness, openHarness } from './harness.ts'

interface PlanNode {
  'Node Type': string
  'Relation Name'?: string
  Plans?: PlanNode[]
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)]
}

/**
 * The reads of a turn's history must cost what the history is long, not what the table is
 * large: the planner cannot tell how short a recursive walk is, and once chose to hash-join a
 * sequential scan of every item. Checked on the plans Postgres picks for the statements the
 * store really sends, on a table where a scan would be the expensive choice.
 */
describe('query plans on postgres', () => {
  let harness: Harness
  let watched: PersistentStores
  let client: postgres.Sql
  const statements: string[] = []
  let userId: string
  let small: { conversationId: string; head: string }

  beforeAll(async () => {
    harness = await openHarness('postgres')
    const url = harness.url ?? ''
    watched = await createStores({ url, onQuery: (query) => statements.push(query) })
    client = postgres(url, { max: 1, onnotice: () => {} })
    userId = (await watched.users.create('plans')).user.id
    const chain = (items: number, tag: string) =>
      watched.conversations.importConversation(userId, {
        externalId: `plans:${tag}`,
        title: tag,
        metadata: {},
        createdAt: new Date(),
        updatedAt: new Date(),
        turns: Array.from({ length: items / 2 }, (_, i) => ({
          input: [userText(`question ${i} of ${tag}`)],
          output: [assistantText(`answer ${i} of ${tag}`)],
          createdAt: new Date(),
          model: 'demo',
        })),
      })
    for (let i = 0; i < 4; i++) await chain(2000, `large-${i}`)
    const imported = await chain(10, 'small')
    small = { conversationId: imported.conversation.id, head: imported.conversation.headTurnId ?? '' }
    await client`analyze`
  }, 120_000)
  afterAll(async () => {
    await client.end({ timeout: 5 })
    await watched.close()
    await harness.close()
  })

  /** The nodes of the plan Postgres picks for `text` with these parameters (explained, not run). */
  async function explain(text: string, params: unknown[]): Promise<PlanNode[]> {
    const rows = await client.unsafe(
      `explain (format json) ${text}`,
      params as postgres.ParameterOrJSON<never>[],
    )
    const explained = rows[0]?.['QUERY PLAN'] as { Plan: PlanNode }[] | undefined
    const plan = explained?.[0]?.Plan
    if (!plan) throw new Error('no plan')
    return nodes(plan)
  }

  /** The plan Postgres picks for the last statement `run` sends, with the parameters it was sent with. */
  async function planOf(run: () => Promise<unknown>, params: unknown[]): Promise<PlanNode[]> {
    statements.length = 0
    await run()
    return explain(statements.at(-1) ?? '', params)
  }

  it('a context read uses the chain index, never a scan of all items', async () => {
    const plan = await planOf(
      () => watched.turns.context(userId, small.head),
      [userId, small.head, small.head],
    )
    expect(plan.some((node) => node['Relation Name'] === 'items')).toBe(true)
    expect(
      plan.filter((node) => node['Node Type'] === 'Seq Scan').map((node) => node['Relation Name']),
    ).toEqual([])
  })

  it('the connection runs without JIT, which costs more than these statements take', async () => {
    const rows = await rawRows<{ jit: string }>(watched.db, sql`show jit`)
    expect(rows[0]?.jit).toBe('off')
  })

  it('a claim that starts its turn reads the context the same way', async () => {
    statements.length = 0
    const claim = await watched.turns.claim(
      claimInput(userId, small.conversationId, {
        parentFromHead: true,
        start: true,
        input: [userText('next')],
      }),
    )
    expect(claim.status).toBe('claimed')
    expect(claim.status === 'claimed' && claim.context?.length).toBe(11)
    const text = statements.at(-1) ?? ''
    // Placeholders for its values: only the plan's shape matters here.
    const plan = await explain(text, placeholders(text))
    const scanned = plan.filter((node) => node['Node Type'] === 'Seq Scan')
    expect(scanned.map((node) => node['Relation Name'])).not.toContain('items')
  })

  /** Null for each parameter of a statement. */
  function placeholders(text: string): null[] {
    const count = Math.max(0, ...[...text.matchAll(/\$(\d+)/g)].map((match) => Number(match[1])))
    return Array.from({ length: count }, () => null)
  }
})
