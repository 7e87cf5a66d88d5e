import { userText } from '@parley/core'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawRows } from '../src/db.ts'
import {
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

describe.each(DRIVERS)('stores on %s', (driver) => {
  let harness: Harness
  const stores = () => harness.stores
  const newUser = async (name = 'user') => (await stores().users.create(name)).user

  beforeAll(async () => {
    harness = await openHarness(driver)
  })
  afterAll(async () => {
    await harness.close()
  })

  describe('migrations', () => {
    it('applying them again is a no-op and the store reports ready', async () => {
      await stores().migrate()
      await stores().migrate()
      expect(await stores().ready()).toBe(true)
    })
  })

  describe('users', () => {
    it('authenticates a created key and stores only its hash', async () => {
      const { user, apiKey } = await stores().users.create('alice')
      expect(apiKey).toMatch(/^pk_[A-Za-z0-9]{8}_[0-9a-f]{64}$/)
      expect(await stores().users.authenticate(apiKey)).toEqual(user)
      const tampered = `${apiKey.slice(0, -1)}${apiKey.endsWith('0') ? '1' : '0'}`
      expect(await stores().users.authenticate(tampered)).toBeNull()
      expect(await stores().users.authenticate('pk_nope')).toBeNull()
      const { schema } = await import('../src/index.ts')
      const { eq } = await import('drizzle-orm')
      const rows = await stores().db.select().from(schema.apiKeys).where(eq(schema.apiKeys.userId, user.id))
      expect(rows).toHaveLength(1)
      expect(JSON.stringify(rows)).not.toContain(apiKey.slice(12))
      expect(apiKey.startsWith(rows[0]?.prefix ?? '?')).toBe(true)
    })

    it('revokes keys by prefix for their owner only', async () => {
      const { user, apiKey } = await stores().users.create('bob')
      const other = await newUser('mallory')
      const second = await stores().users.createKey(user.id)
      expect(await stores().users.revokeKey(other.id, second.prefix)).toBe(false)
      expect(await stores().users.authenticate(second.apiKey)).toEqual(user)
      expect(await stores().users.revokeKey(user.id, second.prefix)).toBe(true)
      expect(await stores().users.authenticate(second.apiKey)).toBeNull()
      expect(await stores().users.authenticate(apiKey)).toEqual(user)
      expect(await stores().users.revokeKey(user.id, second.prefix)).toBe(false)
    })

    it('creates the local user once, also when asked concurrently', async () => {
      const users = await Promise.all(Array.from({ length: 8 }, () => stores().users.localUser()))
      expect(new Set(users.map((user) => user.id)).size).toBe(1)
      expect(await stores().users.localUser()).toEqual(users[0])
    })
  })

  describe('conversations', () => {
    it('creates, gets, updates and soft-deletes', async () => {
      const user = await newUser()
      const created = await stores().conversations.create(user.id, { title: 'Plans', metadata: { a: '1' } })
      expect(created).toMatchObject({ title: 'Plans', metadata: { a: '1' }, headTurnId: null })
      expect(await stores().conversations.get(user.id, created.id)).toEqual(created)
      const updated = await stores().conversations.update(user.id, created.id, { title: 'Plans v2' })
      expect(updated).toMatchObject({ title: 'Plans v2', metadata: { a: '1' } })
      expect(Date.parse(updated?.updatedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(created.updatedAt))
      expect(await stores().conversations.delete(user.id, created.id)).toBe(true)
      expect(await stores().conversations.delete(user.id, created.id)).toBe(false)
      expect(await stores().conversations.get(user.id, created.id)).toBeNull()
      expect(await stores().conversations.update(user.id, created.id, { title: 'x' })).toBeNull()
    })

    it('lists newest first with a cursor and a case-insensitive literal search', async () => {
      const user = await newUser()
      const titles = ['Alpha', 'beta', 'ALPHABET', 'gamma', '100% sure', 'a_b']
      for (const title of titles) {
        await stores().conversations.create(user.id, { title })
        // Newest first is by time to the millisecond: two made in the same one tie, in id order.
        await new Promise((resolve) => setTimeout(resolve, 2))
      }
      const seen: string[] = []
      let cursor: string | undefined
      do {
        const page = await stores().conversations.list(user.id, { limit: 4, cursor })
        seen.push(...page.data.map((conversation) => conversation.title))
        cursor = page.nextCursor ?? undefined
      } while (cursor)
      expect(seen).toEqual([...titles].reverse())
      const alpha = await stores().conversations.list(user.id, { search: 'alpha' })
      expect(alpha.data.map((c) => c.title)).toEqual(['ALPHABET', 'Alpha'])
      expect((await stores().conversations.list(user.id, { search: '%' })).data.map((c) => c.title)).toEqual([
        '100% sure',
      ])
      expect((await stores().conversations.list(user.id, { search: '_' })).data.map((c) => c.title)).toEqual([
        'a_b',
      ])
    })

    it('imports idempotently by external id', async () => {
      const user = await newUser()
      const input = {
        externalId: 'legacy:42',
        title: 'Old chat',
        metadata: { source: 'legacy' },
        createdAt: new Date('2024-01-01T00:00:00Z'),
        updatedAt: new Date('2024-01-02T00:00:00Z'),
        turns: [
          {
            input: [userText('one')],
            output: [assistant('uno')],
            createdAt: new Date('2024-01-01T00:00:00Z'),
            model: 'm',
          },
          {
            input: [userText('two')],
            output: [assistant('dos')],
            createdAt: new Date('2024-01-01T00:01:00Z'),
            model: 'm',
          },
        ],
      }
      const first = await stores().conversations.importConversation(user.id, input)
      expect(first.status).toBe('imported')
      expect(first.conversation.updatedAt).toBe('2024-01-02T00:00:00.000Z')
      const second = await stores().conversations.importConversation(user.id, { ...input, title: 'changed' })
      expect(second).toEqual({ status: 'skipped', conversation: first.conversation })
      const head = first.conversation.headTurnId ?? ''
      const context = await stores().turns.context(user.id, head)
      expect(messageTexts(context)).toEqual(['one', 'uno', 'two'])
      expect(context.map((item) => item.turnId === head)).toEqual([false, false, true])
      const other = await newUser()
      expect((await stores().conversations.importConversation(other.id, input)).status).toBe('imported')
    })

    it('imports how each turn ended: status, usage, error and end time', async () => {
      const user = await newUser()
      const usage = {
        inputTokens: 3,
        outputTokens: 2,
        totalTokens: 5,
        cachedInputTokens: 0,
        reasoningTokens: 0,
        estimated: false,
      }
      const { conversation } = await stores().conversations.importConversation(user.id, {
        externalId: 'parley:conv_ended',
        title: 'Ended turns',
        metadata: {},
        createdAt: new Date('2024-01-01T00:00:00Z'),
        updatedAt: new Date('2024-01-01T00:05:00Z'),
        turns: [
          {
            input: [userText('one')],
            output: [assistant('uno')],
            createdAt: new Date('2024-01-01T00:00:00Z'),
            model: 'm',
            status: 'completed',
            completedAt: new Date('2024-01-01T00:00:07Z'),
            usage,
          },
          {
            input: [userText('two')],
            output: [],
            createdAt: new Date('2024-01-01T00:01:00Z'),
            model: 'm',
            status: 'failed',
            error: { reason: 'upstream_timeout', message: 'Too slow' },
          },
        ],
      })
      const branch = await stores().turns.branch(user.id, conversation.id, {})
      expect(branch.data.map((entry) => entry.turn.status)).toEqual(['completed', 'failed'])
      expect(branch.data[0]?.turn).toMatchObject({
        usage,
        error: null,
        completedAt: '2024-01-01T00:00:07.000Z',
      })
      expect(branch.data[1]?.turn).toMatchObject({
        usage: null,
        error: { reason: 'upstream_timeout', message: 'Too slow' },
        completedAt: '2024-01-01T00:01:00.000Z',
      })
    })

    it('forks at an item of the current branch into a new chain with new ids', async () => {
      const user = await newUser()
      const conversation = await stores().conversations.create(user.id, { title: 'Source' })
      const t1 = await completeTurn(stores(), user.id, conversation.id, null, 'q1')
      const t2 = await completeTurn(stores(), user.id, conversation.id, t1, 'q2')
      await completeTurn(stores(), user.id, conversation.id, t2, 'q3')
      const second = await stores().turns.get(user.id, t2)
      const cutAt = second?.input[0]?.id ?? ''
      const fork = await stores().conversations.fork(user.id, conversation.id, cutAt)
      expect(fork).not.toBeNull()
      expect(fork?.id).not.toBe(conversation.id)
      expect(fork?.title).toBe('Source')
      const branch = await stores().turns.branch(user.id, fork?.id ?? '', {})
      expect(branch.data.map((entry) => messageTexts([...entry.input, ...entry.output]))).toEqual([
        ['q1', 're: q1'],
        ['q2'],
      ])
      const forkItems = branch.data.flatMap((entry) => [...entry.input, ...entry.output])
      expect(forkItems.map((item) => item.seq)).toEqual([1, 2, 3])
      expect(forkItems.some((item) => item.id === cutAt)).toBe(false)
      expect(branch.data.every((entry) => entry.turn.upstreamResponseId === null)).toBe(true)
      expect(await stores().conversations.fork(user.id, conversation.id, 'item_unknownunknown')).toBeNull()
    })

    it('setHead selects a branch and lands on its newest turn', async () => {
      const user = await newUser()
      const conversation = await stores().conversations.create(user.id, {})
      const root = await completeTurn(stores(), user.id, conversation.id, null, 'root')
      const a = await completeTurn(stores(), user.id, conversation.id, root, 'a')
      const b = await completeTurn(stores(), user.id, conversation.id, root, 'b')
      const bChild = await completeTurn(stores(), user.id, conversation.id, b, 'b2')
      expect((await stores().conversations.get(user.id, conversation.id))?.headTurnId).toBe(bChild)
      expect((await stores().conversations.setHead(user.id, conversation.id, a))?.headTurnId).toBe(a)
      expect((await stores().conversations.setHead(user.id, conversation.id, b))?.headTurnId).toBe(bChild)
      const other = await stores().conversations.create(user.id, {})
      expect(await stores().conversations.setHead(user.id, other.id, a)).toBeNull()
    })
  })

  describe('turns', () => {
    it('claims once per request id and replays by outcome', async () => {
      const user = await newUser()
      const conversation = await stores().conversations.create(user.id, {})
      const input = claimInput(user.id, conversation.id, { requestId: 'send-1' })
      const claimed = await stores().turns.claim(input)
      expect(claimed.status).toBe('claimed')
      if (claimed.status !== 'claimed') return
      expect(claimed.turn.status).toBe('pending')
      expect(claimed.input.map((item) => item.seq)).toEqual([1])
      expect(claimed.input[0]?.id).toMatch(/^item_/)
      expect((await stores().conversations.get(user.id, conversation.id))?.headTurnId).toBe(claimed.turn.id)

      const again = await stores().turns.claim(input)
      expect(again).toMatchObject({ status: 'in_flight', turn: { id: claimed.turn.id } })
      expect(await stores().turns.claim({ ...input, fingerprint: 'other' })).toEqual({
        status: 'conflict',
        reason: 'idempotency_key_reused',
      })
      expect(await stores().turns.claim({ ...input, requestId: 'send-2' })).toEqual({
        status: 'conflict',
        reason: 'conversation_busy',
      })

      expect(await stores().turns.markStreaming(claimed.turn.id, 60_000)).toBe(true)
      expect(await stores().turns.markStreaming(claimed.turn.id, 60_000)).toBe(false)
      expect(await stores().turns.renewLease(claimed.turn.id, 60_000)).toBe(true)
      const call = await stores().turns.appendOutput(
        claimed.turn.id,
        [{ type: 'function_call', call_id: 'c1', name: 'clock', arguments: '{}', status: 'completed' }],
        [4],
      )
      expect(call.map((item) => [item.seq, item.side, item.tokenCount])).toEqual([[2, 'output', 4]])
      const finished = await stores().turns.finish(claimed.turn.id, {
        status: 'completed',
        output: [assistant('done')],
        outputTokenCounts: [1],
        usage: usage(10, 5),
        ledger: [{ provider: 'scripted', model: 'demo', upstreamResponseId: 'up-1', usage: usage(10, 5) }],
        error: null,
        upstreamResponseId: 'up-1',
        truncated: true,
      })
      expect(finished.turn).toMatchObject({
        status: 'completed',
        upstreamResponseId: 'up-1',
        truncated: true,
      })
      expect(finished.turn.completedAt).not.toBeNull()
      expect(finished.output.map((item) => item.seq)).toEqual([2, 3])
      expect(await stores().turns.renewLease(claimed.turn.id, 60_000)).toBe(false)

      const replay = await stores().turns.claim(input)
      expect(replay.status).toBe('completed')
      if (replay.status === 'completed') {
        expect(replay.output.map((item) => item.id)).toEqual(finished.output.map((item) => item.id))
        expect(replay.input.map((item) => item.id)).toEqual(claimed.input.map((item) => item.id))
      }
      // A finish that arrives late changes nothing and bills nothing.
      const late = await stores().turns.finish(claimed.turn.id, {
        status: 'failed',
        output: [assistant('late')],
        outputTokenCounts: [1],
        usage: usage(1, 1),
        ledger: [{ provider: 'scripted', model: 'demo', upstreamResponseId: 'up-2', usage: usage(1, 1) }],
        error: null,
        upstreamResponseId: null,
        truncated: false,
      })
      expect(late.turn.status).toBe('completed')
      expect(late.output).toHaveLength(2)
      expect((await stores().turns.getByRequestId(user.id, 'send-1'))?.turn.id).toBe(claimed.turn.id)
      expect(
        await stores()
          .turns.appendOutput(claimed.turn.id, [assistant('x')], [1])
          .catch((e) => e.reason),
      ).toBe('interrupted')
    })

    it('answers not_found for unknown conversations and parents', async () => {
      const user = await newUser()
      const conversation = await stores().conversations.create(user.id, {})
      expect(await stores().turns.claim(claimInput(user.id, 'conv_doesnotexist00'))).toEqual({
        status: 'not_found',
      })
      expect(
        await stores().turns.claim(
          claimInput(user.id, conversation.id, { parentTurnId: 'resp_doesnotexist00' }),
        ),
      ).toEqual({ status: 'not_found' })
      const elsewhere = await stores().conversations.create(user.id, {})
      const foreignParent = await completeTurn(stores(), user.id, elsewhere.id, null, 'x')
      expect(
        await stores().turns.claim(claimInput(user.id, conversation.id, { parentTurnId: foreignParent })),
      ).toEqual({ status: 'not_found' })
    })

    it('bills one ledger row per upstream response, whatever the retries', async () => {
      const user = await newUser()
      const conversation = await stores().conversations.create(user.id, {})
      const day = new Date()
      await completeTurn(stores(), user.id, conversation.id, null, 'a', { ledgerId: 'dup-1', model: 'm1' })
      const head = (await stores().conversations.get(user.id, conversation.id))?.headTurnId ?? null
      await completeTurn(stores(), user.id, conversation.id, head, 'b', { ledgerId: 'dup-1', model: 'm1' })
      const head2 = (await stores().conversations.get(user.id, conversation.id))?.headTurnId ?? null
      await completeTurn(stores(), user.id, conversation.id, head2, 'c', { ledgerId: 'other-1', model: 'm2' })
      const from = new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate()))
      const to = new Date(from.getTime() + 86_400_000)
      const totals = await stores().usage.totals(user.id, { from, to })
      const today = from.toISOString().slice(0, 10)
      expect(totals).toEqual([
        { day: today, model: 'm1', turns: 1, inputTokens: 3, outputTokens: 2, totalTokens: 5 },
        { day: today, model: 'm2', turns: 1, inputTokens: 3, outputTokens: 2, totalTokens: 5 },
      ])
      expect(
        await stores().usage.totals(user.id, { from: to, to: new Date(to.getTime() + 86_400_000) }),
      ).toEqual([])
    })

    it('builds the context from the ancestors and the own input, along the branch only', async () => {
      const user = await newUser()
      const conversation = await stores().conversations.create(user.id, {})
      const t1 = await completeTurn(stores(), user.id, conversation.id, null, 'one')
      const t2 = await completeTurn(stores(), user.id, conversation.id, t1, 'two')
      await completeTurn(stores(), user.id, conversation.id, t1, 'sibling')
      const t3 = await completeTurn(stores(), user.id, conversation.id, t2, 'three')
      const context = await stores().turns.context(user.id, t3)
      expect(messageTexts(context)).toEqual(['one', 're: one', 'two', 're: two', 'three'])
      expect(context.map((item) => item.turnId)).toEqual([t1, t1, t2, t2, t3])
    })

    it('lists the branch oldest first with siblings, page by page', async () => {
      const user = await newUser()
      const conversation = await stores().conversations.create(user.id, {})
      const t1 = await completeTurn(stores(), user.id, conversation.id, null, 'one')
      const first = await completeTurn(stores(), user.id, conversation.id, t1, 'two')
      const regenerated = await completeTurn(stores(), user.id, conversation.id, t1, 'two again')
      const t3 = await completeTurn(stores(), user.id, conversation.id, regenerated, 'three')
      const page1 = await stores().turns.branch(user.id, conversation.id, { limit: 2 })
      expect(page1.data.map((entry) => entry.turn.id)).toEqual([t1, regenerated])
      expect(page1.data[0]?.siblingIds).toEqual([t1])
      expect(page1.data[1]?.siblingIds).toEqual([first, regenerated])
      expect(messageTexts([...(page1.data[1]?.input ?? []), ...(page1.data[1]?.output ?? [])])).toEqual([
        'two again',
        're: two again',
      ])
      const page2 = await stores().turns.branch(user.id, conversation.id, {
        limit: 2,
        cursor: page1.nextCursor ?? undefined,
      })
      expect(page2.data.map((entry) => entry.turn.id)).toEqual([t3])
      expect(page2.nextCursor).toBeNull()
      expect(await stores().turns.lastResponseId(user.id, conversation.id)).toBe(t3)
    })

    it('lastResponseId skips failed turns and is null before any completion', async () => {
      const user = await newUser()
      const conversation = await stores().conversations.create(user.id, {})
      expect(await stores().turns.lastResponseId(user.id, conversation.id)).toBeNull()
      const t1 = await completeTurn(stores(), user.id, conversation.id, null, 'one')
      const claim = await stores().turns.claim(claimInput(user.id, conversation.id, { parentTurnId: t1 }))
      if (claim.status !== 'claimed') throw new Error(claim.status)
      await stores().turns.finish(claim.turn.id, {
        status: 'failed',
        output: [],
        outputTokenCounts: [],
        usage: null,
        ledger: [],
        error: { reason: 'upstream_unavailable', message: 'down' },
        upstreamResponseId: null,
        truncated: false,
      })
      expect(await stores().turns.lastResponseId(user.id, conversation.id)).toBe(t1)
    })

    it('sweeps expired turns into interrupted, keeps partial output and ends the event log', async () => {
      const user = await newUser()
      const conversation = await stores().conversations.create(user.id, {})
      const claim = await stores().turns.claim(claimInput(user.id, conversation.id, { leaseMs: 0 }))
      if (claim.status !== 'claimed') throw new Error(claim.status)
      await stores().turns.appendOutput(claim.turn.id, [assistant('partial')], [1])
      await stores().events.append([textEvent(claim.turn.id, 1), textEvent(claim.turn.id, 2)])
      const live: string[] = []
      const unsubscribe = stores().bus.subscribe(claim.turn.id, (event) => live.push(event.type))
      await new Promise((resolve) => setTimeout(resolve, 10))
      const swept = await stores().turns.sweepExpired()
      unsubscribe()
      expect(swept.map((turn) => [turn.id, turn.status])).toEqual([[claim.turn.id, 'interrupted']])
      expect(await stores().turns.sweepExpired()).toEqual([])
      const stored = await stores().turns.get(user.id, claim.turn.id)
      expect(stored?.turn.status).toBe('interrupted')
      expect(messageTexts(stored?.output ?? [])).toEqual(['partial'])
      const log = await stores().events.readAfter(claim.turn.id, 2)
      expect(log).toHaveLength(1)
      expect(log[0]).toMatchObject({ type: 'turn.interrupted', seq: 3, id: `${claim.turn.id}:3` })
      expect(live).toEqual(['turn.interrupted'])
      const retry = await stores().turns.claim(
        claimInput(user.id, conversation.id, { requestId: claim.turn.requestId }),
      )
      expect(retry.status).toBe('completed')
      expect((await stores().turns.claim(claimInput(user.id, conversation.id))).status).toBe('claimed')
    })
  })

  describe('event log', () => {
    /** A claimed (running) turn's id. */
    const runningTurn = async () => {
      const user = await newUser()
      const conversation = await stores().conversations.create(user.id, {})
      const claim = await stores().turns.claim(claimInput(user.id, conversation.id))
      if (claim.status !== 'claimed') throw new Error(claim.status)
      return claim.turn.id
    }

    it('stores a batch of thousands of events in several rows and reads it back whole', async () => {
      const id = await runningTurn()
      const seqs = Array.from({ length: 4_500 }, (_, index) => index + 1)
      await stores().events.append(seqs.map((seq) => textEvent(id, seq, `d${seq}`)))
      const rows = await rawRows<{ first_seq: number; last_seq: number }>(
        stores().db,
        sql`select first_seq, last_seq from turn_event_batches where turn_id = ${id} order by first_seq`,
      )
      expect(rows.map((row) => [row.first_seq, row.last_seq])).toEqual([
        [1, 2000],
        [2001, 4000],
        [4001, 4500],
      ])
      const read = await stores().events.readAfter(id, 0)
      expect(read.map((event) => event.seq)).toEqual(seqs)
      expect(read.every((event) => event.type === 'text.delta' && event.delta === `d${event.seq}`)).toBe(true)
      expect((await stores().events.readAfter(id, 1999, 3)).map((event) => event.seq)).toEqual([
        2000, 2001, 2002,
      ])
    })

    it('appends batches idempotently, reads after a seq and prunes finished turns', async () => {
      const id = await runningTurn()
      await stores().events.append([1, 2, 3].map((seq) => textEvent(id, seq, `d${seq}`)))
      await stores().events.append([textEvent(id, 3, 'dup'), textEvent(id, 4, 'd4')])
      const after = await stores().events.readAfter(id, 1)
      expect(after.map((event) => [event.seq, event.type === 'text.delta' ? event.delta : ''])).toEqual([
        [2, 'd2'],
        [3, 'd3'],
        [4, 'd4'],
      ])
      expect((await stores().events.readAfter(id, 0, 2)).map((event) => event.seq)).toEqual([1, 2])
      // A batch retried after an unclear failure, with a later event added; the same batch again;
      // a batch given out of order and with a seq twice: every seq once, in order.
      const retried = [1, 2, 3, 4, 5].map((seq) => textEvent(id, seq, `d${seq}`))
      await stores().events.append(retried)
      await stores().events.append(retried)
      await stores().events.append([textEvent(id, 7, 'd7'), textEvent(id, 6, 'd6'), textEvent(id, 6, 'd6')])
      const all = await stores().events.readAfter(id, 0)
      expect(all.map((event) => [event.seq, event.type === 'text.delta' ? event.delta : ''])).toEqual(
        [1, 2, 3, 4, 5, 6, 7].map((seq) => [seq, `d${seq}`]),
      )
      expect((await stores().events.readAfter(id, 4, 2)).map((event) => event.seq)).toEqual([5, 6])
      expect(await stores().events.readAfter(id, 7)).toEqual([])
      // The turn still runs: pruning leaves its events alone.
      await stores().events.prune(new Date(Date.now() + 60_000))
      expect(await stores().events.readAfter(id, 0)).toHaveLength(7)
      await stores().turns.finish(id, {
        status: 'cancelled',
        output: [],
        outputTokenCounts: [],
        usage: null,
        ledger: [],
        error: null,
        upstreamResponseId: null,
        truncated: false,
      })
      await stores().events.prune(new Date(Date.now() - 60_000))
      expect(await stores().events.readAfter(id, 0)).toHaveLength(7)
      expect(await stores().events.prune(new Date(Date.now() + 60_000))).toBeGreaterThanOrEqual(7)
      expect(await stores().events.readAfter(id, 0)).toEqual([])
    })
  })
})
