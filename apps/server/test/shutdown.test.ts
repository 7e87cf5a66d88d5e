import { randomUUID } from 'node:crypto'
import { createStores } from '@parley/persistence'
import { describe, expect, it } from 'vitest'
import { connect, slowModel, startServer } from './helpers.ts'

describe('shutdown', () => {
  it('lets a running turn finish before it closes; shared stores stay open', async () => {
    const stores = await createStores({ memory: true })
    try {
      const server = await startServer({}, { provider: slowModel(20, 20), stores })
      const client = connect(server, 'ws')
      const conversation = await client.conversations.create.mutate({})
      const sent = await client.chat.send.mutate({
        requestId: randomUUID(),
        conversationId: conversation.id,
        input: 'x',
      })
      client.close()

      await server.close()

      const user = await stores.users.localUser()
      const stored = await stores.turns.get(user.id, sent.turn.id)
      expect(stored?.turn.status).toBe('completed')
      expect(await fetch(`${server.url}/healthz`).catch(() => 'refused')).toBe('refused')
    } finally {
      await stores.close()
    }
  })
})
