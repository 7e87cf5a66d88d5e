import { randomUUID } from 'node:crypto'
import { isParleyClientError } from '@parley/client'
import { schema } from '@parley/persistence'
import { createProvider } from '@parley/providers'
import { type FakeUpstream, startFakeUpstream } from '@parley/providers/fake-upstream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/log.ts'
import { collect, connect, startServer, type TestServer } from '../helpers.ts'

const UPSTREAM_KEY = 'sk-upstream-very-secret-0123456789abcdef'
const SECRET_INPUT = 'SECRET-USER-BODY-7f3a'
const SECRET_REPLY = 'SECRET-MODEL-REPLY-91bc'
const SECRET_V1 = 'SECRET-V1-BODY-44de'

let upstream: FakeUpstream
let server: TestServer
const lines: string[] = []
const keys = { owner: '', other: '', revoked: '' }
const ids = { conversation: '', response: '', item: '', v1Conversation: '', v1Item: '' }

beforeAll(async () => {
  upstream = await startFakeUpstream({ apiKey: UPSTREAM_KEY })
  const provider = createProvider({
    kind: 'openai-chat',
    apiKey: UPSTREAM_KEY,
    baseURL: upstream.url,
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
  })
  const logger = createLogger('info', { write: (line: string) => void lines.push(line) })
  server = await startServer({ auth: 'keys', logLevel: 'info' }, { provider, logger })
  keys.owner = (await server.stores.users.create('alice')).apiKey
  keys.other = (await server.stores.users.create('bob')).apiKey
  const carol = await server.stores.users.create('carol')
  keys.revoked = carol.apiKey
  const prefix = carol.apiKey.split('_').slice(0, 2).join('_')
  expect(await server.stores.users.revokeKey(carol.user.id, prefix)).toBe(true)

  // A realistic session: a tool round trip, a failure, /v1 calls, bad keys.
  using owner = connect(server, 'ws', keys.owner)
  const conversation = await owner.conversations.create.mutate({ title: 'private' })
  upstream.enqueue(
    { toolCalls: [{ name: 'calculator', arguments: { expression: '6*7' } }] },
    { text: `The answer is 42 ${SECRET_REPLY}` },
  )
  const events = await collect((h) =>
    owner.chat.stream.subscribe(
      { requestId: randomUUID(), conversationId: conversation.id, input: `calc: 6*7 ${SECRET_INPUT}` },
      h,
    ),
  )
  expect(events.some((event) => event.type === 'tool.result')).toBe(true)
  upstream.enqueue(
    ...Array.from({ length: 4 }, () => ({ fault: { type: 'http_error' as const, status: 500 } })),
  )
  const failed = await collect((h) =>
    owner.chat.stream.subscribe(
      { requestId: randomUUID(), conversationId: conversation.id, input: `fail ${SECRET_INPUT}` },
      h,
    ),
  )
  expect(failed.at(-1)?.type).toBe('turn.failed')
  const stored = await owner.chat.turn.query({ turnId: events[0]?.turnId ?? '' })
  ids.conversation = conversation.id
  ids.response = stored.turn.id
  ids.item = stored.output[0]?.id ?? ''

  const v1 = await fetch(`${server.url}/v1/responses`, {
    method: 'POST',
    headers: { authorization: `Bearer ${keys.owner}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4.1-mini', input: SECRET_V1 }),
  })
  expect(v1.status).toBe(200)
  const created = await fetch(`${server.url}/v1/conversations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${keys.owner}`, 'content-type': 'application/json' },
    body: JSON.stringify({ items: [{ type: 'message', role: 'user', content: SECRET_V1 }] }),
  })
  const v1Conversation = (await created.json()) as { id: string }
  ids.v1Conversation = v1Conversation.id
  const listed = (await (
    await fetch(`${server.url}/v1/conversations/${v1Conversation.id}/items`, {
      headers: { authorization: `Bearer ${keys.owner}` },
    })
  ).json()) as { data: Array<{ id: string }> }
  ids.v1Item = listed.data[0]?.id ?? ''
  await fetch(`${server.url}/v1/responses/${ids.response}`, {
    headers: { authorization: 'Bearer pk_wrong_key' },
  })
})
afterAll(async () => {
  await server.close()
  await upstream.stop()
})

type Caller = 'anonymous' | 'wrong key' | 'revoked key' | 'other user'
const CALLERS: Caller[] = ['anonymous', 'wrong key', 'revoked key', 'other user']
const UNKNOWN = {
  response: 'resp_0000000000000000unknown',
  conversation: 'conv_0000000000000000unknown',
  item: 'item_0000000000000000unknown',
}

function headersFor(caller: Caller): Record<string, string> {
  const key =
    caller === 'anonymous'
      ? null
      : caller === 'wrong key'
        ? `${keys.owner.slice(0, -4)}abcd`
        : caller === 'revoked key'
          ? keys.revoked
          : keys.other
  return key ? { authorization: `Bearer ${key}`, 'content-type': 'application/json' } : {}
}

/** Every /v1 endpoint that names an object, as [method, path, body]. */
function v1Endpoints(
  response: string,
  conversation: string,
  item: string,
): Array<[string, string, unknown?]> {
  return [
    ['GET', `/v1/responses/${response}`],
    ['GET', `/v1/responses/${response}?stream=true`],
    ['GET', `/v1/responses/${response}/input_items`],
    ['POST', `/v1/responses/${response}/cancel`],
    ['DELETE', `/v1/responses/${response}`],
    ['POST', '/v1/responses', { input: 'x', previous_response_id: response }],
    ['POST', '/v1/responses', { input: 'x', conversation }],
    ['GET', `/v1/conversations/${conversation}`],
    ['POST', `/v1/conversations/${conversation}`, { metadata: { taken: 'yes' } }],
    ['GET', `/v1/conversations/${conversation}/items`],
    [
      'POST',
      `/v1/conversations/${conversation}/items`,
      { items: [{ type: 'message', role: 'user', content: 'x' }] },
    ],
    ['GET', `/v1/conversations/${conversation}/items/${item}`],
    ['DELETE', `/v1/conversations/${conversation}/items/${item}`],
    ['DELETE', `/v1/conversations/${conversation}`],
  ]
}

async function v1Outcome(caller: Caller, method: string, path: string, body: unknown, hide: string[]) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: headersFor(caller),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  let text = await response.text()
  for (const id of hide) text = text.split(id).join('<id>')
  return `${response.status} ${text}`
}

describe('/v1 isolation matrix', () => {
  it.each(CALLERS)(
    '%s: every endpoint answers as for an unknown id (or 401), changes nothing',
    async (caller) => {
      const real = v1Endpoints(ids.response, ids.v1Conversation, ids.v1Item)
      const unknown = v1Endpoints(UNKNOWN.response, UNKNOWN.conversation, UNKNOWN.item)
      const hide = [ids.response, ids.v1Conversation, ids.v1Item, ...Object.values(UNKNOWN)]
      for (const [index, [method, path, body]] of real.entries()) {
        const seen = await v1Outcome(caller, method, path, body, hide)
        const [, unknownPath, unknownBody] = unknown[index] ?? []
        const expected = await v1Outcome(caller, method, unknownPath ?? '', unknownBody, hide)
        if (caller === 'other user') {
          expect(seen, `${method} ${path}`).toBe(expected)
          expect(seen.startsWith('404') || seen.startsWith('400'), `${method} ${path}: ${seen}`).toBe(true)
        } else {
          expect(seen.startsWith('401'), `${method} ${path}: ${seen}`).toBe(true)
          expect(seen).toContain('"type":"authentication_error"')
        }
      }
      // The owner still sees everything untouched.
      const mine = await fetch(`${server.url}/v1/conversations/${ids.v1Conversation}/items`, {
        headers: { authorization: `Bearer ${keys.owner}` },
      })
      expect(((await mine.json()) as { data: unknown[] }).data).toHaveLength(1)
      const response = await fetch(`${server.url}/v1/responses/${ids.response}`, {
        headers: { authorization: `Bearer ${keys.owner}` },
      })
      expect(((await response.json()) as { status: string }).status).toBe('completed')
    },
  )
})

describe('revoked keys on tRPC', () => {
  it.each(['ws', 'sse'] as const)('every kind of call over %s is UNAUTHORIZED', async (transport) => {
    using client = connect(server, transport, keys.revoked)
    const calls: Array<() => Promise<unknown>> = [
      () => client.conversations.list.query({}),
      () => client.conversations.get.query({ id: ids.conversation }),
      () =>
        client.chat.send.mutate({ requestId: randomUUID(), conversationId: ids.conversation, input: 'x' }),
      () => client.chat.turn.query({ turnId: ids.response }),
      () => collect((h) => client.chat.watch.subscribe({ turnId: ids.response }, h)),
    ]
    for (const call of calls) {
      const error = await call().then(
        () => null,
        (caught: unknown) => caught,
      )
      expect(isParleyClientError(error) && error.reason).toBe('unauthenticated')
    }
  })
})

describe('secrets', () => {
  it('API keys are stored hashed: no stored column holds a key or its secret part', async () => {
    const rows = await server.stores.db.select().from(schema.apiKeys)
    expect(rows.length).toBeGreaterThanOrEqual(3)
    const dump = JSON.stringify(rows)
    for (const key of [keys.owner, keys.other, keys.revoked]) {
      expect(dump).not.toContain(key)
      expect(dump).not.toContain(key.split('_').at(-1))
    }
  })

  it('the logs of a realistic session hold no key and no message body', () => {
    const log = lines.join('')
    expect(lines.length).toBeGreaterThan(10)
    expect(log).toContain('"msg":"request"')
    for (const secret of [keys.owner, keys.other, keys.revoked, UPSTREAM_KEY, 'pk_wrong_key']) {
      expect(log).not.toContain(secret)
      expect(log).not.toContain(secret.slice(-16))
    }
    for (const body of [SECRET_INPUT, SECRET_REPLY, SECRET_V1, '6*7']) expect(log).not.toContain(body)
  })

  it('every log line is one JSON object with one level, and /v1 lines carry the request id', () => {
    for (const line of lines) {
      expect(line.match(/"level":/g)).toHaveLength(1)
      expect(() => JSON.parse(line)).not.toThrow()
    }
    const started = lines.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'v1 response started')
    expect(started).toMatchObject({ level: 30, requestId: expect.stringMatching(/^req_/) })
  })
})
