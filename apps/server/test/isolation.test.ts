import { randomUUID } from 'node:crypto'
import { isParleyClientError } from '@parley/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { collect, connect, startServer, type TestServer, TRANSPORTS } from './helpers.ts'

/** What a caller can observe about a failure: everything but the id it asked about. */
async function outcome(call: () => Promise<unknown>, id: string): Promise<string> {
  try {
    const value = await call()
    return `ok ${JSON.stringify(value)}`
  } catch (error) {
    if (!isParleyClientError(error)) throw error
    const message = error.message.split(id).join('<id>')
    return `${error.reason} ${error.status} ${error.data?.code} ${message}`
  }
}

/** Subscriptions as a call: the first event, or the error. */
function firstEvent(
  subscribe: (h: { onData: (v: unknown) => void; onError: (e: unknown) => void }) => { unsubscribe(): void },
) {
  return new Promise<unknown>((resolve, reject) => {
    const sub = subscribe({
      onData: (value) => {
        sub.unsubscribe()
        resolve(value)
      },
      onError: (error) => {
        sub.unsubscribe()
        reject(error)
      },
    })
  })
}

describe.each(TRANSPORTS)('isolation matrix (keys mode, %s)', (transport) => {
  let server: TestServer
  let owner: ReturnType<typeof connect>
  let keys: { owner: string; other: string }
  let ids: { conversation: string; turn: string; item: string; requestId: string }

  beforeAll(async () => {
    server = await startServer({ auth: 'keys' })
    const alice = await server.stores.users.create('alice')
    const bob = await server.stores.users.create('bob')
    keys = { owner: alice.apiKey, other: bob.apiKey }
    owner = connect(server, transport, keys.owner)
    const conversation = await owner.conversations.create.mutate({ title: 'secret' })
    const requestId = randomUUID()
    const events = await collect((h) =>
      owner.chat.stream.subscribe({ requestId, conversationId: conversation.id, input: 'private' }, h),
    )
    const turn = events[0]?.turnId ?? ''
    const stored = await owner.chat.turn.query({ turnId: turn })
    ids = { conversation: conversation.id, turn, item: stored.output[0]?.id ?? '', requestId }
  })
  afterAll(async () => {
    owner.close()
    await server.close()
  })

  const UNKNOWN = { conversation: 'conv_0000000000000000unknown', turn: 'resp_0000000000000000unknown' }

  type Client = ReturnType<typeof connect>
  /** Every procedure that takes an id, called with the given conversation and turn ids. */
  const probes: Record<string, (c: Client, conv: string, turn: string, item: string) => Promise<unknown>> = {
    'conversations.get': (c, conv) => c.conversations.get.query({ id: conv }),
    'conversations.update': (c, conv) => c.conversations.update.mutate({ id: conv, title: 'mine now' }),
    'conversations.fork': (c, conv, _t, item) => c.conversations.fork.mutate({ id: conv, atItemId: item }),
    'conversations.switchBranch': (c, conv, turn) =>
      c.conversations.switchBranch.mutate({ id: conv, turnId: turn }),
    'conversations.delete': (c, conv) => c.conversations.delete.mutate({ id: conv }),
    'messages.list': (c, conv) => c.messages.list.query({ conversationId: conv }),
    'exports.conversation': (c, conv) => c.exports.conversation.query({ id: conv, format: 'json' }),
    'chat.send': (c, conv) =>
      c.chat.send.mutate({ requestId: randomUUID(), conversationId: conv, input: 'hi' }),
    'chat.regenerate': (c, _conv, turn) =>
      c.chat.regenerate.mutate({ requestId: randomUUID(), turnId: turn }),
    'chat.edit': (c, _conv, turn) =>
      c.chat.edit.mutate({ requestId: randomUUID(), turnId: turn, input: 'x' }),
    'chat.cancel': (c, _conv, turn) => c.chat.cancel.mutate({ turnId: turn }),
    'chat.turn': (c, _conv, turn) => c.chat.turn.query({ turnId: turn }),
    'chat.watch': (c, _conv, turn) => firstEvent((h) => c.chat.watch.subscribe({ turnId: turn }, h)),
    'chat.stream': (c, conv) =>
      firstEvent((h) =>
        c.chat.stream.subscribe({ requestId: randomUUID(), conversationId: conv, input: 'hi' }, h),
      ),
    'chat.stream (resume by lastEventId)': (c, conv, turn) =>
      firstEvent((h) =>
        c.chat.stream.subscribe(
          { requestId: ids.requestId, conversationId: conv, input: 'private', lastEventId: `${turn}:1` },
          h,
        ),
      ),
  }

  for (const [name, probe] of Object.entries(probes)) {
    it(`${name}: anonymous, a wrong key and another user's key learn nothing`, async () => {
      const callers = {
        anonymous: connect(server, transport),
        wrongKey: connect(server, transport, 'pk_wrong_key_that_does_not_exist'),
        otherUser: connect(server, transport, keys.other),
      }
      try {
        for (const [who, client] of Object.entries(callers)) {
          const onReal = await outcome(() => probe(client, ids.conversation, ids.turn, ids.item), ids.turn)
          const onUnknown = await outcome(
            () => probe(client, UNKNOWN.conversation, UNKNOWN.turn, ids.item),
            UNKNOWN.turn,
          )
          const normalize = (text: string, conv: string) => text.split(conv).join('<id>')
          expect(normalize(onReal, ids.conversation), `${who} on ${name}`).toBe(
            normalize(onUnknown, UNKNOWN.conversation),
          )
          expect(onReal, `${who} on ${name}`).toMatch(
            who === 'otherUser' ? /^not_found 404 NOT_FOUND/ : /^unauthenticated 401 UNAUTHORIZED/,
          )
        }
      } finally {
        for (const client of Object.values(callers)) client.close()
      }
    })
  }

  it('listings show another user nothing, and the owner still has everything', async () => {
    using other = connect(server, transport, keys.other)
    expect((await other.conversations.list.query({})).data).toEqual([])
    expect(await other.usage.totals.query({})).toEqual([])
    const mine = await owner.conversations.get.query({ id: ids.conversation })
    expect(mine.title).toBe('secret')
    expect((await owner.messages.list.query({ conversationId: ids.conversation })).data).toHaveLength(1)
  })

  it('anonymous callers may only ask for health', async () => {
    using anonymous = connect(server, transport)
    expect((await anonymous.health.check.query()).auth).toBe('keys')
    for (const call of [
      () => anonymous.conversations.list.query({}),
      () => anonymous.tools.list.query(),
      () => anonymous.usage.totals.query({}),
    ]) {
      expect(await outcome(call, '-')).toMatch(/^unauthenticated 401/)
    }
  })
})
