import { schema } from '@parley/persistence'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type TestServer } from '../helpers.ts'

/**
 * Bug: `POST /v1/responses` without `conversation` creates a conversation for the request, then
 * refuses the request (400) when the orchestrator rejects the send — e.g. a `model` holding a
 * lone surrogate, which passes the pre-send check in `v1/responses.ts` — and the conversation
 * stays behind. DESIGN.md: a refused request is not stored (responses.ts says so too: "a refused
 * request leaves nothing behind").
 */
describe('regression: a refused POST /v1/responses leaves its conversation behind', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startServer()
  })
  afterAll(async () => {
    await server.close()
  })

  it('leaves no row behind when the send is refused', async () => {
    const before = await server.stores.db.$count(schema.conversations)
    const response = await fetch(`${server.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'x\ud800y', input: 'hi' }),
    })
    expect(response.status).toBe(400)
    expect(await server.stores.db.$count(schema.conversations)).toBe(before)
  })
})
