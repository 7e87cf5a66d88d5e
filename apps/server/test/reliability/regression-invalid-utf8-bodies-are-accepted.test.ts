import { schema } from '@parley/persistence'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers.ts'

// {"input":"<ED A0 80>"} / {"title":"<C3 28>"}: bytes that are not UTF-8 (an encoded surrogate, a
// truncated sequence).
const V1_BODY = Uint8Array.from([
  0x7b, 0x22, 0x69, 0x6e, 0x70, 0x75, 0x74, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d,
])
const TRPC_BODY = Uint8Array.from([
  0x7b, 0x22, 0x74, 0x69, 0x74, 0x6c, 0x65, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d,
])

/**
 * Bug: request bodies are decoded leniently (`Buffer#toString('utf8')` in `v1/http.ts`
 * `readJsonBody`, and the tRPC adapter's body reader): invalid UTF-8 becomes U+FFFD and the
 * request is served and stored with text the client never sent. The reliability brief wants a
 * typed 400 for bodies that are not UTF-8.
 */
describe('regression: bodies that are not UTF-8 are accepted with replacement characters', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer()
  })
  afterAll(async () => {
    await server.close()
  })

  it('/v1 answers 400 with the OpenAI error shape and stores nothing', async () => {
    const before = await server.stores.db.$count(schema.items)
    const response = await fetch(`${server.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: V1_BODY,
    })
    expect(response.status).toBe(400)
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('invalid_json')
    expect(await server.stores.db.$count(schema.items)).toBe(before)
  })

  it('tRPC answers a typed 400 and stores nothing', async () => {
    const before = await server.stores.db.$count(schema.conversations)
    const response = await fetch(`${server.url}/trpc/conversations.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: TRPC_BODY,
    })
    expect(response.status).toBe(400)
    expect(await server.stores.db.$count(schema.conversations)).toBe(before)
  })
})
