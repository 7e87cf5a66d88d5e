import { randomUUID } from 'node:crypto'
import type { TurnEvent } from '@parley/core'
import type { FakeUpstream } from '@parley/providers/fake-upstream'
import { expect } from 'vitest'
import { collect, connect, sleep, textOf } from '../helpers.ts'
import type { ServerProcess } from './process.ts'
import { eventually, outputText } from './support.ts'

export const WORDS = Array.from({ length: 40 }, (_, i) => `tok${i + 1}`)
export const TEXT = WORDS.join(' ')
export const LEASE_MS = 1_000

export interface Recovered {
  /** The interrupted turn's stored output text. */
  partial: string
  /** The text deltas a retry of the request id replayed from the event log. */
  replayed: string
  /** The text deltas a client saw before the crash. */
  seen: string
}

/**
 * Starts a turn on a fresh server process, kills it with SIGKILL once `ready` holds, restarts,
 * and checks what DESIGN.md promises about the turn it left behind.
 */
export async function crashAndRecover(
  start: () => Promise<ServerProcess>,
  upstream: FakeUpstream,
  ready: (deltas: string[]) => boolean | Promise<boolean>,
): Promise<Recovered> {
  const first = await start()
  const requestId = randomUUID()
  const input = `crash me ${requestId}`
  let conversationId = ''
  let turnId = ''
  const seen: string[] = []
  {
    const client = connect(first, 'sse')
    conversationId = (await client.conversations.create.mutate({ title: 'crash' })).id
    const started = await client.chat.send.mutate({ requestId, conversationId, input })
    turnId = started.turn.id
    const subscription = client.chat.watch.subscribe(
      { turnId },
      {
        onData: ({ data }: { data: TurnEvent }) => {
          if (data.type === 'text.delta') seen.push(data.delta)
        },
        onError: () => {},
      },
    )
    const deadline = Date.now() + 20_000
    while (!(await ready(seen))) {
      if (Date.now() > deadline) throw new Error('the turn never reached the crash point')
      await sleep(20)
    }
    subscription.unsubscribe()
    client.close()
  }
  await first.kill9()
  const callsAtCrash = upstream.callCount('chat.completions')

  const second = await start()
  try {
    const client = connect(second, 'sse')
    const stored = await eventually(
      () => client.chat.turn.query({ turnId }),
      (value) => value.turn.status !== 'streaming' && value.turn.status !== 'pending',
      LEASE_MS * 10,
    )
    expect(stored.turn.status).toBe('interrupted')
    const partial = outputText(stored.output)

    const messages = await client.messages.list.query({ conversationId })
    const mine = JSON.stringify(messages).split(input).length - 1
    expect(mine).toBe(1)

    // The same request id replays the interrupted turn: no model call.
    const replay = await collect((h) => client.chat.stream.subscribe({ requestId, conversationId, input }, h))
    const terminal = replay.at(-1)
    expect(terminal?.type).toBe('turn.interrupted')
    expect(terminal?.turnId).toBe(turnId)
    expect(upstream.callCount('chat.completions')).toBe(callsAtCrash)

    // A new request id regenerates.
    const regenerated = await client.chat.regenerate.mutate({ requestId: randomUUID(), turnId })
    const events = await collect((h) => client.chat.watch.subscribe({ turnId: regenerated.turn.id }, h))
    expect(events.at(-1)?.type).toBe('turn.completed')
    expect(upstream.callCount('chat.completions')).toBe(callsAtCrash + 1)
    client.close()
    return { partial, replayed: textOf(replay), seen: seen.join('') }
  } finally {
    await second.stop()
  }
}
