import { randomUUID } from 'node:crypto'
import { streamTurn } from '@parley/client'
import type { TurnEvent } from '@parley/core'
import { startPostgres, type TestPostgres } from '@parley/persistence/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  collect,
  connect,
  expectContiguous,
  slowModel,
  startServer,
  type TestServer,
  TRANSPORTS,
  textOf,
} from './helpers.ts'

const WORDS = 30

describe('two instances on one Postgres', () => {
  let pg: TestPostgres
  beforeAll(async () => {
    pg = await startPostgres()
  }, 60_000)
  afterAll(async () => {
    await pg?.stop()
  })

  it.each(TRANSPORTS)(
    'a stream started through one instance resumes through the other (%s)',
    async (transport) => {
      // One model shared by both instances: its call count is the number of provider calls in total.
      const model = slowModel(WORDS, 20)
      const servers: TestServer[] = [
        await startServer({ databaseUrl: pg.url }, { provider: model }),
        await startServer({ databaseUrl: pg.url }, { provider: model }),
      ]
      try {
        const [one, two] = servers.map((server) => connect(server, transport)) as [
          ReturnType<typeof connect>,
          ReturnType<typeof connect>,
        ]
        const conversation = await one.conversations.create.mutate({ title: 'shared' })
        const input = { requestId: randomUUID(), conversationId: conversation.id, input: 'across' }

        const head = await collect(
          (h) => one.chat.stream.subscribe(input, h),
          (_event, all) => all.filter((e) => e.type === 'text.delta').length === 6,
        )
        one.close()

        const tail: TurnEvent[] = []
        const result = await streamTurn(two, input, {
          lastEventId: head.at(-1)?.id ?? '',
          onEvent: (e) => tail.push(e),
        })
        two.close()

        const all = [...head, ...tail]
        expectContiguous(all)
        expect(result.terminal.type).toBe('turn.completed')
        expect(textOf(all)).toBe(Array.from({ length: WORDS }, (_, i) => `w${i + 1}`).join(' '))
        expect(model.callCount).toBe(1)
        // The second instance delivered the live part: at least one delta arrived after the switch.
        expect(tail.filter((e) => e.type === 'text.delta').length).toBeGreaterThan(0)
      } finally {
        for (const server of servers) await server.close()
      }
    },
  )
})
