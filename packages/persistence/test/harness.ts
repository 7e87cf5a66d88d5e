import {
  type ClaimTurnInput,
  type ContextItem,
  type Item,
  type ItemBody,
  type TurnEvent,
  TurnSettings,
  type Usage,
  userText,
} from '@parley/core'
import { sql } from 'drizzle-orm'
import { inject } from 'vitest'
import { rawRows } from '../src/db.ts'
import { createStores, type PersistentStores } from '../src/index.ts'
import { decodeBody } from '../src/item-body.ts'
import { createDatabase } from '../src/testing/index.ts'

export interface Harness {
  stores: PersistentStores
  /** The database URL (Postgres only). */
  url?: string
  /** Another createStores on the same database (Postgres only: a second "instance"). */
  openAnother?: () => Promise<PersistentStores>
  close(): Promise<void>
}

export type DriverName = 'pglite' | 'postgres'
export const DRIVERS: DriverName[] = ['pglite', 'postgres']

export async function openHarness(driver: DriverName): Promise<Harness> {
  if (driver === 'pglite') {
    const stores = await createStores({ memory: true })
    await stores.migrate()
    return { stores, close: () => stores.close() }
  }
  const database = await createDatabase(inject('postgresUrl'))
  const stores = await createStores({ url: database.url, poolSize: 20 })
  await stores.migrate()
  const others: PersistentStores[] = []
  return {
    stores,
    url: database.url,
    async openAnother() {
      const other = await createStores({ url: database.url })
      others.push(other)
      return other
    },
    async close() {
      for (const other of others) await other.close()
      await stores.close()
      await database.stop()
    },
  }
}

export const settings = TurnSettings.parse({})

export function claimInput(
  userId: string,
  conversationId: string,
  overrides: Partial<ClaimTurnInput> = {},
): ClaimTurnInput {
  const input = overrides.input ?? [userText('hello')]
  return {
    userId,
    conversationId,
    requestId: `req-${Math.random().toString(36).slice(2)}`,
    fingerprint: 'fp-1',
    parentTurnId: null,
    input,
    inputTokenCounts: input.map(() => 3),
    provider: 'scripted',
    model: 'demo',
    instructions: null,
    settings,
    leaseMs: 60_000,
    setHead: true,
    ...overrides,
  }
}

export function usage(input: number, output: number): Usage {
  return {
    inputTokens: input,
    outputTokens: output,
    totalTokens: input + output,
    cachedInputTokens: 0,
    reasoningTokens: 0,
    estimated: false,
  }
}

export function assistant(text: string): ItemBody {
  return {
    type: 'message',
    role: 'assistant',
    status: 'completed',
    content: [{ type: 'output_text', text, annotations: [] }],
  }
}

/** Claims and completes one turn; returns its id. */
export async function completeTurn(
  stores: PersistentStores,
  userId: string,
  conversationId: string,
  parentTurnId: string | null,
  text: string,
  options: { ledgerId?: string; provider?: string; model?: string } = {},
): Promise<string> {
  const claim = await stores.turns.claim(
    claimInput(userId, conversationId, {
      parentTurnId,
      input: [userText(text)],
      model: options.model ?? 'demo',
    }),
  )
  if (claim.status !== 'claimed') throw new Error(`expected claimed, got ${claim.status}`)
  await stores.turns.finish(claim.turn.id, {
    status: 'completed',
    output: [assistant(`re: ${text}`)],
    outputTokenCounts: [2],
    usage: usage(3, 2),
    ledger: options.ledgerId
      ? [
          {
            provider: options.provider ?? 'scripted',
            model: options.model ?? 'demo',
            upstreamResponseId: options.ledgerId,
            usage: usage(3, 2),
          },
        ]
      : [],
    error: null,
    upstreamResponseId: null,
    truncated: false,
  })
  return claim.turn.id
}

export function textEvent(turnId: string, seq: number, delta = 'x'): TurnEvent {
  return { type: 'text.delta', itemId: 'item_aaaaaaaaaaaa', delta, id: `${turnId}:${seq}`, turnId, seq }
}

type Body = { type: string; content?: unknown }

/** The text of each message (`<type>` for other items), of items, bodies or context items. */
export function messageTexts(items: readonly (Body | { body: Body })[]): string[] {
  return items.map((entry) => {
    const item = 'body' in entry ? entry.body : entry
    if (item.type !== 'message' || !Array.isArray(item.content)) return `<${item.type}>`
    return item.content.map((part: { text?: string }) => part.text ?? '').join('')
  })
}

/** Items as a context holds them: body, turn id and token count. */
export function asContext(items: readonly Item[]): ContextItem[] {
  return items.map(({ id, conversationId, turnId, seq, side, tokenCount, createdAt, ...body }) => ({
    body,
    turnId,
    tokenCount,
  }))
}

/**
 * The context by its definition: the items of every ancestor (walking parent links one by one),
 * then the turn's own input, in seq order. What the segment ranges must agree with.
 */
export function contextByDefinition(
  turnId: string,
  parents: ReadonlyMap<string, string | null>,
  itemsByTurn: ReadonlyMap<string, readonly Item[]>,
): ContextItem[] {
  const chain: string[] = []
  for (let id: string | null | undefined = turnId; id; id = parents.get(id)) chain.push(id)
  return asContext(
    chain
      .flatMap((id) => (itemsByTurn.get(id) ?? []).filter((item) => id !== turnId || item.side === 'input'))
      .sort((a, b) => a.seq - b.seq),
  )
}

/**
 * Every stored item as its row says it is (the body parsed from the stored text by hand, not by
 * the column's mapping), in seq order per conversation.
 */
export async function storedItems(stores: PersistentStores): Promise<Item[]> {
  const rows = await rawRows<{
    id: string
    conversation_id: string
    turn_id: string
    seq: number
    side: 'input' | 'output'
    token_count: number
    created_at: string
    body: string
  }>(
    stores.db,
    sql`select id, conversation_id, turn_id, seq, side, token_count, body,
          to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at
        from items order by conversation_id, seq`,
  )
  return rows.map((row) => ({
    ...decodeBody(row.body),
    id: row.id,
    conversationId: row.conversation_id,
    turnId: row.turn_id,
    seq: row.seq,
    side: row.side,
    tokenCount: row.token_count,
    createdAt: row.created_at,
  }))
}

/** Resolves once `check()` holds, polling every 5 ms; rejects after `timeoutMs`. */
export function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (check()) resolve()
      else if (Date.now() > deadline) reject(new Error('timed out'))
      else setTimeout(tick, 5)
    }
    tick()
  })
}
