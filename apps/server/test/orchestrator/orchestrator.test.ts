import { ConflictError, NotFoundError, type TurnEvent, ValidationError } from '@parley/core'
import { errorStep, textStep, toolCallStep } from '@parley/providers/testing'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  collect,
  type Engine,
  engine,
  ledgerRows,
  openWorld,
  outputText,
  requestId,
  settled,
  streamedText,
  terminalOf,
  type World,
} from './harness.ts'
import { leaseTests } from './leases.ts'
import { resumeTests } from './resume.ts'

// The machine is shared and PGlite runs in-process: generous, but still bounded.
vi.setConfig({ testTimeout: 20_000 })

let world: World
const engines: Engine[] = []

beforeAll(async () => {
  world = await openWorld()
}, 60_000)
afterAll(async () => {
  await world.close()
})
afterEach(async () => {
  await Promise.all(engines.splice(0).map((running) => running.stop()))
})

async function start(...args: Parameters<typeof engine> extends [unknown, ...infer Rest] ? Rest : never) {
  const running = await engine(world.stores, ...args)
  engines.push(running)
  return running
}

const REPLY = 'The quick brown fox jumps over the lazy dog.'

describe('send and stream', () => {
  it('streams a turn from turn.started to turn.completed and stores it before the terminal event', async () => {
    const { orchestrator, model } = await start({ steps: [textStep(REPLY)] })
    const conversation = await world.conversation()
    const { turn, replayed } = await orchestrator.send(world.userId, {
      requestId: requestId(),
      conversationId: conversation.id,
      input: 'hello',
    })
    expect(replayed).toBe(false)
    // The run starts at once, so the claim already started it (one statement, no pending step).
    expect(turn.status).toBe('streaming')

    const events = await collect(orchestrator.attach(world.userId, turn.id, 0))
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1))
    expect(events.every((event) => event.id === `${turn.id}:${event.seq}` && event.turnId === turn.id)).toBe(
      true,
    )
    expect(events[0]).toMatchObject({ type: 'turn.started', turn: { id: turn.id, status: 'streaming' } })
    expect(events.map((event) => event.type)).toEqual([
      'turn.started',
      'item.started',
      ...Array<string>(REPLY.split(' ').length).fill('text.delta'),
      'item.completed',
      'usage',
      'turn.completed',
    ])
    expect(streamedText(events)).toBe(REPLY)
    const terminal = terminalOf(events)
    expect(terminal).toMatchObject({ type: 'turn.completed', turn: { status: 'completed' } })

    // Stored before the terminal event went out: reading it now finds it complete.
    const stored = await orchestrator.get(world.userId, turn.id)
    expect(stored.turn.status).toBe('completed')
    expect(outputText(stored)).toBe(REPLY)
    expect(stored.turn.usage?.outputTokens).toBeGreaterThan(0)
    expect(terminal.type === 'turn.completed' && terminal.output.map((item) => item.id)).toEqual(
      stored.output.map((item) => item.id),
    )
    // The message is stored under the id it streamed with (regression: they used to differ).
    const announced = events.find((event) => event.type === 'item.started')
    expect(announced?.type === 'item.started' && announced.itemId).toBe(stored.output[0]?.id)
    expect((await world.stores.conversations.get(world.userId, conversation.id))?.headTurnId).toBe(turn.id)
    expect(await ledgerRows(world.stores, turn.id)).toHaveLength(1)
    expect(model.callCount).toBe(1)

    // The log holds the same sequence: a late reader gets it whole, and a resume gets the rest.
    expect(await collect(orchestrator.attach(world.userId, turn.id, 0))).toEqual(events)
    expect(await collect(orchestrator.attach(world.userId, turn.id, 3))).toEqual(events.slice(3))
  })

  it('builds the next turn on the stored context', async () => {
    const { orchestrator, model } = await start({
      steps: [textStep('first answer'), textStep('second answer')],
    })
    const conversation = await world.conversation()
    const first = await orchestrator.send(world.userId, {
      requestId: requestId(),
      conversationId: conversation.id,
      input: 'one',
      instructions: 'be brief',
    })
    await collect(orchestrator.attach(world.userId, first.turn.id, 0))
    const second = await orchestrator.send(world.userId, {
      requestId: requestId(),
      conversationId: conversation.id,
      input: 'two',
    })
    await collect(orchestrator.attach(world.userId, second.turn.id, 0))
    expect(second.turn.parentTurnId).toBe(first.turn.id)
    expect(model.requests[0]?.instructions).toBe('be brief')
    // Instructions do not carry over (Responses API semantics); history does.
    expect(model.requests[1]?.instructions).toBeNull()
    expect(model.requests[1]?.input.map((item) => item.type === 'message' && item.role)).toEqual([
      'user',
      'assistant',
      'user',
    ])
  })

  it('stores and streams model text that Postgres could not hold as sent: NUL, and a pair split across deltas', async () => {
    // A smiling face is one surrogate pair; an upstream may cut it between two deltas.
    const { orchestrator } = await start({
      steps: [{ chunks: ['a\u0000b ', '\uD83D', '\uDE00 c', ' \uDE00!'] }],
    })
    const conversation = await world.conversation()
    const { turn } = await orchestrator.send(world.userId, {
      requestId: requestId(),
      conversationId: conversation.id,
      input: 'hi',
    })
    const events = await collect(orchestrator.attach(world.userId, turn.id, 0))
    expect(terminalOf(events).type).toBe('turn.completed')
    const expected = 'a\uFFFDb \uD83D\uDE00 c \uFFFD!'
    expect(streamedText(events)).toBe(expected)
    expect(outputText(await orchestrator.get(world.userId, turn.id))).toBe(expected)
    // The log holds the same stream as the live delivery did.
    const logged = await world.stores.events.readAfter(turn.id, 0)
    expect(logged).toEqual(events)
  })

  it('rejects bad input before storing anything, so the same request id can be retried', async () => {
    const { orchestrator, model } = await start({ steps: [textStep('ok')] })
    const conversation = await world.conversation()
    const id = requestId()
    await expect(
      orchestrator.send(world.userId, { requestId: id, conversationId: conversation.id, input: 'bad\u0000' }),
    ).rejects.toBeInstanceOf(ValidationError)
    await expect(
      orchestrator.send(world.otherUserId, { requestId: id, conversationId: conversation.id, input: 'hi' }),
    ).rejects.toBeInstanceOf(NotFoundError)
    const { replayed, turn } = await orchestrator.send(world.userId, {
      requestId: id,
      conversationId: conversation.id,
      input: 'hi',
    })
    expect(replayed).toBe(false)
    await collect(orchestrator.attach(world.userId, turn.id, 0))
    expect(model.callCount).toBe(1)
    // Another user's turn answers like an unknown one.
    await expect(orchestrator.get(world.otherUserId, turn.id)).rejects.toBeInstanceOf(NotFoundError)
    await expect(collect(orchestrator.attach(world.otherUserId, turn.id, 0))).rejects.toBeInstanceOf(
      NotFoundError,
    )
    await expect(orchestrator.cancel(world.otherUserId, turn.id)).rejects.toBeInstanceOf(NotFoundError)
  })
})

describe('idempotency', () => {
  it('attaches a duplicate that arrives in flight to the same stream, with no second provider call', async () => {
    const { orchestrator, model } = await start({ steps: [textStep(REPLY, { delayMs: 15 })] })
    const conversation = await world.conversation()
    const send = { requestId: requestId(), conversationId: conversation.id, input: 'hello' }
    const first = await orchestrator.send(world.userId, send)
    const firstEvents = collect(orchestrator.attach(world.userId, first.turn.id, 0))
    await new Promise((resolve) => setTimeout(resolve, 40))
    const duplicate = await orchestrator.send(world.userId, send)
    expect(duplicate.replayed).toBe(true)
    expect(duplicate.turn.id).toBe(first.turn.id)
    expect(duplicate.turn.status).toBe('streaming')
    const duplicateEvents = await collect(orchestrator.attach(world.userId, duplicate.turn.id, 0))
    expect(streamedText(duplicateEvents)).toBe(REPLY)
    expect(duplicateEvents).toEqual(await firstEvents)
    expect(model.callCount).toBe(1)
  })

  it('replays a finished request without a provider call or a second ledger row', async () => {
    const { orchestrator, model } = await start({ steps: [textStep(REPLY)] })
    const conversation = await world.conversation()
    const send = { requestId: requestId(), conversationId: conversation.id, input: 'hello' }
    const first = await orchestrator.send(world.userId, send)
    await collect(orchestrator.attach(world.userId, first.turn.id, 0))
    // The head moved to this turn: a retry must still match its first attempt.
    const again = await orchestrator.send(world.userId, send)
    expect(again).toMatchObject({ replayed: true, turn: { id: first.turn.id, status: 'completed' } })
    expect(model.callCount).toBe(1)
    expect(await ledgerRows(world.stores, first.turn.id)).toHaveLength(1)
    const replay = await collect(orchestrator.attach(world.userId, again.turn.id, 0))
    expect(streamedText(replay)).toBe(REPLY)
  })

  it('refuses a reused request id with another request, and a second writer on a busy conversation', async () => {
    const { orchestrator } = await start({ steps: [textStep(REPLY, { delayMs: 10 })] })
    const conversation = await world.conversation()
    const id = requestId()
    const first = await orchestrator.send(world.userId, {
      requestId: id,
      conversationId: conversation.id,
      input: 'a',
    })
    const reused = orchestrator.send(world.userId, {
      requestId: id,
      conversationId: conversation.id,
      input: 'b',
    })
    await expect(reused).rejects.toBeInstanceOf(ConflictError)
    await expect(reused).rejects.toMatchObject({ reason: 'idempotency_key_reused', status: 422 })
    const busy = orchestrator.send(world.userId, {
      requestId: requestId(),
      conversationId: conversation.id,
      input: 'c',
    })
    await expect(busy).rejects.toMatchObject({ reason: 'conversation_busy', status: 409 })
    await settled(world, first.turn.id)
    // Not stored: the busy request's id is free once the conversation is idle.
  })
})

describe('subscribers', () => {
  it('a subscriber that leaves does not stop the turn, which finishes and is stored', async () => {
    const { orchestrator } = await start({ steps: [textStep(REPLY, { delayMs: 5 })] })
    const conversation = await world.conversation()
    const { turn } = await orchestrator.send(world.userId, {
      requestId: requestId(),
      conversationId: conversation.id,
      input: 'hi',
    })
    const seen: TurnEvent[] = []
    for await (const event of orchestrator.attach(world.userId, turn.id, 0)) {
      seen.push(event)
      if (seen.length === 3) break
    }
    const controller = new AbortController()
    const aborted = collect(orchestrator.attach(world.userId, turn.id, 3, controller.signal))
    controller.abort()
    expect(await aborted).toEqual([])
    const stored = await settled(world, turn.id)
    expect(stored.turn.status).toBe('completed')
    expect(outputText(stored)).toBe(REPLY)
    // Its bus subscriptions were released in `finally`.
    expect((world.stores.bus as { hasSubscribers?(id: string): boolean }).hasSubscribers?.(turn.id)).toBe(
      false,
    )
  })
})

describe('waiting for the end only', () => {
  it('endOnly delivers the terminal event alone: during the run, after it, and from another instance', async () => {
    // Events stay out of the log until the turn ends: another instance sees them only live.
    const { orchestrator } = await start(
      { steps: [textStep(REPLY, { delayMs: 5 })] },
      { eventBatch: { maxEvents: 1000, maxDelayMs: 10_000 } },
    )
    const elsewhere = await start({ steps: [] }, { attachPollMs: 200 })
    const conversation = await world.conversation()
    const { turn } = await orchestrator.send(world.userId, {
      requestId: requestId(),
      conversationId: conversation.id,
      input: 'hi',
    })
    const everything = collect(orchestrator.attach(world.userId, turn.id, 0))
    // Attached once the run has published events, none of them in the log yet.
    for await (const event of orchestrator.attach(world.userId, turn.id, 0)) {
      if (event.type === 'text.delta') break
    }
    const [here, there] = await Promise.all([
      collect(orchestrator.attach(world.userId, turn.id, 0, undefined, { endOnly: true })),
      collect(elsewhere.orchestrator.attach(world.userId, turn.id, 0, undefined, { endOnly: true })),
    ])
    const terminal = terminalOf(await everything)
    expect(terminal.type).toBe('turn.completed')
    expect(terminal.seq).toBeGreaterThan(5)
    expect(here).toEqual([terminal])
    expect(there).toEqual([terminal])
    // After the end, both instances read it from the log.
    expect(
      await collect(orchestrator.attach(world.userId, turn.id, 0, undefined, { endOnly: true })),
    ).toEqual([terminal])
    expect(
      await collect(elsewhere.orchestrator.attach(world.userId, turn.id, 2, undefined, { endOnly: true })),
    ).toEqual([terminal])
  })
})

describe('finished turns', () => {
  it('a resume after the terminal event ends at once; a pruned log still yields the terminal event', async () => {
    // A clock ahead of the database: the turn finished long enough ago for its log to be final.
    const { orchestrator } = await start(
      { steps: [textStep(REPLY)] },
      { clock: { now: () => new Date(Date.now() + 60_000) } },
    )
    const conversation = await world.conversation()
    const { turn } = await orchestrator.send(world.userId, {
      requestId: requestId(),
      conversationId: conversation.id,
      input: 'hi',
    })
    const events = await collect(orchestrator.attach(world.userId, turn.id, 0))
    const terminal = terminalOf(events)
    expect(await collect(orchestrator.attach(world.userId, turn.id, terminal.seq))).toEqual([])

    expect(await world.stores.events.prune(new Date(Date.now() + 60_000))).toBeGreaterThanOrEqual(
      events.length,
    )
    const afterPrune = await collect(orchestrator.attach(world.userId, turn.id, 0))
    expect(afterPrune).toEqual([
      expect.objectContaining({
        type: 'turn.completed',
        seq: 1,
        turn: expect.objectContaining({ id: turn.id }),
      }),
    ])
    expect(afterPrune[0]?.type === 'turn.completed' && afterPrune[0].output).toEqual(
      terminal.type === 'turn.completed' && terminal.output,
    )
  })
})

describe('cancel', () => {
  it('stores the partial output as cancelled and emits turn.cancelled', async () => {
    const words = Array.from({ length: 200 }, (_, index) => `w${index}`).join(' ')
    const { orchestrator } = await start({ steps: [textStep(words, { delayMs: 5 })] })
    const conversation = await world.conversation()
    const { turn } = await orchestrator.send(world.userId, {
      requestId: requestId(),
      conversationId: conversation.id,
      input: 'talk',
    })
    const events: TurnEvent[] = []
    const reading = (async () => {
      for await (const event of orchestrator.attach(world.userId, turn.id, 0)) {
        events.push(event)
      }
    })()
    while (events.filter((event) => event.type === 'text.delta').length < 5) {
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    const cancelled = await orchestrator.cancel(world.userId, turn.id)
    await reading
    expect(cancelled.status).toBe('cancelled')
    const terminal = terminalOf(events)
    expect(terminal.type).toBe('turn.cancelled')
    const stored = await orchestrator.get(world.userId, turn.id)
    const partial = outputText(stored)
    expect(partial.length).toBeGreaterThan(0)
    expect(words.startsWith(partial)).toBe(true)
    expect(partial).not.toBe(words)
    expect(stored.output[0]).toMatchObject({ type: 'message', status: 'incomplete' })
    const announced = events.find((event) => event.type === 'item.started')
    expect(announced?.type === 'item.started' && announced.itemId).toBe(stored.output[0]?.id)
    expect(streamedText(events)).toBe(partial)
    // Billing still records the call that was made.
    expect(await ledgerRows(world.stores, turn.id)).toHaveLength(1)
    // Cancelling a finished turn changes nothing.
    expect(await orchestrator.cancel(world.userId, turn.id)).toEqual(stored.turn)
  })
})

describe('tool loop', () => {
  it('feeds an invalid tool call back to the model, which recovers', async () => {
    const { orchestrator, model } = await start({
      steps: [
        toolCallStep('calculator', { expr: '2+2' }),
        toolCallStep('calculator', { expression: '2+2' }),
        textStep('It is 4.'),
      ],
    })
    const conversation = await world.conversation()
    const { turn } = await orchestrator.send(world.userId, {
      requestId: requestId(),
      conversationId: conversation.id,
      input: 'what is 2+2?',
    })
    const events = await collect(orchestrator.attach(world.userId, turn.id, 0))
    expect(terminalOf(events).type).toBe('turn.completed')
    const results = events.filter((event) => event.type === 'tool.result')
    expect(results).toEqual([
      expect.objectContaining({ isError: true, output: expect.stringContaining('Invalid arguments') }),
      expect.objectContaining({ isError: false, output: '{"expression":"2+2","result":4}' }),
    ])
    expect(events.filter((event) => event.type === 'tool.call')).toEqual([
      expect.objectContaining({ name: 'calculator', executor: 'server' }),
      expect.objectContaining({ name: 'calculator', executor: 'server' }),
    ])
    const stored = await orchestrator.get(world.userId, turn.id)
    expect(stored.output.map((item) => item.type)).toEqual([
      'function_call',
      'function_call_output',
      'function_call',
      'function_call_output',
      'message',
    ])
    expect(stored.output[1]).toMatchObject({ is_error: true })
    // The second step saw the error output.
    expect(model.requests[1]?.input.at(-1)).toMatchObject({ type: 'function_call_output', is_error: true })
    expect(model.callCount).toBe(3)
    expect(await ledgerRows(world.stores, turn.id)).toHaveLength(3)
    expect(stored.turn.usage?.inputTokens).toBeGreaterThan(0)
  })

  it('fails the turn with step_limit when the model keeps calling tools, keeping the output', async () => {
    const { orchestrator, model } = await start({ steps: () => toolCallStep('clock', {}) }, { maxSteps: 3 })
    const conversation = await world.conversation()
    const { turn } = await orchestrator.send(world.userId, {
      requestId: requestId(),
      conversationId: conversation.id,
      input: 'loop',
    })
    const events = await collect(orchestrator.attach(world.userId, turn.id, 0))
    const terminal = terminalOf(events)
    expect(terminal).toMatchObject({ type: 'turn.failed', error: { reason: 'step_limit' } })
    expect(model.callCount).toBe(3)
    const stored = await orchestrator.get(world.userId, turn.id)
    expect(stored.turn).toMatchObject({ status: 'failed', error: { reason: 'step_limit' } })
    expect(stored.output.filter((item) => item.type === 'function_call')).toHaveLength(3)
    expect(stored.output.filter((item) => item.type === 'function_call_output')).toHaveLength(2)
  })

  it('ends the turn at a client-declared tool call; the next request carries its output', async () => {
    const { orchestrator, model } = await start({
      steps: [toolCallStep('get_weather', { city: 'Oslo' }, { callId: 'call_w1' }), textStep('Cold.')],
    })
    const conversation = await world.conversation()
    const settings = {
      tools: [
        {
          type: 'function' as const,
          name: 'get_weather',
          description: null,
          parameters: { type: 'object' },
          strict: false,
        },
      ],
    }
    const first = await orchestrator.send(world.userId, {
      requestId: requestId(),
      conversationId: conversation.id,
      input: 'weather in Oslo?',
      settings,
    })
    const events = await collect(orchestrator.attach(world.userId, first.turn.id, 0))
    expect(terminalOf(events)).toMatchObject({
      type: 'turn.completed',
      output: [expect.objectContaining({ type: 'function_call', call_id: 'call_w1' })],
    })
    expect(events.find((event) => event.type === 'tool.call')).toMatchObject({ executor: 'client' })
    expect(model.requests[0]?.tools.map((tool) => tool.name).sort()).toEqual([
      'calculator',
      'clock',
      'get_weather',
    ])

    const second = await orchestrator.send(world.userId, {
      requestId: requestId(),
      conversationId: conversation.id,
      input: [
        { type: 'function_call_output', call_id: 'call_w1', output: '{"celsius":-3}', status: 'completed' },
      ],
      settings,
    })
    await collect(orchestrator.attach(world.userId, second.turn.id, 0))
    expect(model.requests[1]?.input.slice(-2)).toEqual([
      expect.objectContaining({ type: 'function_call', call_id: 'call_w1' }),
      expect.objectContaining({ type: 'function_call_output', call_id: 'call_w1', output: '{"celsius":-3}' }),
    ])
  })

  it('replays a cancelled tool call as an answered one in the next context', async () => {
    const { orchestrator, model, tools } = await start({
      steps: [toolCallStep('wait_forever', {}), textStep('ok')],
    })
    const { z } = await import('zod')
    tools.register({
      name: 'wait_forever',
      description: 'hangs',
      input: z.object({}),
      execute: (_args, ctx) =>
        new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
    })
    const conversation = await world.conversation()
    const first = await orchestrator.send(world.userId, {
      requestId: requestId(),
      conversationId: conversation.id,
      input: 'start',
    })
    for await (const event of orchestrator.attach(world.userId, first.turn.id, 0)) {
      if (event.type === 'tool.call') break
    }
    expect((await orchestrator.cancel(world.userId, first.turn.id)).status).toBe('cancelled')
    const second = await orchestrator.send(world.userId, {
      requestId: requestId(),
      conversationId: conversation.id,
      input: 'again',
    })
    await collect(orchestrator.attach(world.userId, second.turn.id, 0))
    expect(model.requests[1]?.input.map((item) => item.type)).toEqual([
      'message',
      'function_call',
      'function_call_output',
      'message',
    ])
    expect(model.requests[1]?.input[2]).toMatchObject({ is_error: true })
  })
})

describe('branches', () => {
  it('regenerate and edit create siblings and move the head', async () => {
    const { orchestrator, model } = await start({
      steps: [textStep('first'), textStep('second'), textStep('regenerated'), textStep('edited')],
    })
    const conversation = await world.conversation()
    const one = await orchestrator.send(world.userId, {
      requestId: requestId(),
      conversationId: conversation.id,
      input: 'q1',
    })
    await collect(orchestrator.attach(world.userId, one.turn.id, 0))
    const two = await orchestrator.send(world.userId, {
      requestId: requestId(),
      conversationId: conversation.id,
      input: 'q2',
    })
    await collect(orchestrator.attach(world.userId, two.turn.id, 0))

    const regenerateId = requestId()
    const regenerated = await orchestrator.regenerate(world.userId, {
      requestId: regenerateId,
      turnId: two.turn.id,
    })
    await collect(orchestrator.attach(world.userId, regenerated.turn.id, 0))
    expect(regenerated.turn.parentTurnId).toBe(one.turn.id)
    expect((await world.stores.conversations.get(world.userId, conversation.id))?.headTurnId).toBe(
      regenerated.turn.id,
    )
    // Same input, and the context does not contain the sibling being replaced.
    expect(model.requests[2]?.input.map((item) => item.type === 'message' && item.content[0])).toEqual([
      expect.objectContaining({ text: 'q1' }),
      expect.objectContaining({ text: 'first' }),
      expect.objectContaining({ text: 'q2' }),
    ])
    expect(
      (await orchestrator.regenerate(world.userId, { requestId: regenerateId, turnId: two.turn.id }))
        .replayed,
    ).toBe(true)

    const edited = await orchestrator.edit(world.userId, {
      requestId: requestId(),
      turnId: two.turn.id,
      input: 'q2, edited',
    })
    await collect(orchestrator.attach(world.userId, edited.turn.id, 0))
    expect(edited.turn.parentTurnId).toBe(one.turn.id)
    const branch = await world.stores.turns.branch(world.userId, conversation.id, { limit: 10 })
    expect(branch.data.map((entry) => entry.turn.id)).toEqual([one.turn.id, edited.turn.id])
    expect(branch.data[1]?.siblingIds).toEqual([two.turn.id, regenerated.turn.id, edited.turn.id])
    expect(outputText(branch.data[1]!)).toBe('edited')
    expect(model.callCount).toBe(4)
  })
})

describe('context budget', () => {
  it('drops the oldest turns when the context exceeds the window and marks the turn truncated', async () => {
    const long = Array.from({ length: 60 }, (_, index) => `word${index}`).join(' ')
    const { orchestrator, model } = await start({
      steps: () => textStep('short reply'),
      contextWindow: 400,
    })
    const conversation = await world.conversation()
    let last = null as null | string
    for (let index = 0; index < 4; index++) {
      const { turn } = await orchestrator.send(world.userId, {
        requestId: requestId(),
        conversationId: conversation.id,
        input: `${index} ${long}`,
        settings: { maxOutputTokens: 50 },
      })
      await collect(orchestrator.attach(world.userId, turn.id, 0))
      last = turn.id
    }
    const stored = await orchestrator.get(world.userId, last!)
    expect(stored.turn.truncated).toBe(true)
    const sent = model.lastRequest?.input ?? []
    expect(sent.length).toBeLessThan(8)
    expect(sent.at(-1)).toMatchObject({
      content: [expect.objectContaining({ text: expect.stringMatching(/^3 /) })],
    })
  })
})

describe('failures and observation', () => {
  it('stores a broken stream as failed with its partial output, and an upstream refusal with none', async () => {
    const { orchestrator } = await start({
      steps: [textStep(REPLY, { breakAfterChunks: 3 }), errorStep('upstream_unavailable')],
    })
    const conversation = await world.conversation()
    const broken = await orchestrator.send(world.userId, {
      requestId: requestId(),
      conversationId: conversation.id,
      input: 'one',
    })
    const events = await collect(orchestrator.attach(world.userId, broken.turn.id, 0))
    expect(terminalOf(events)).toMatchObject({ type: 'turn.failed', error: { reason: 'stream_broken' } })
    const stored = await orchestrator.get(world.userId, broken.turn.id)
    expect(outputText(stored)).toBe(REPLY.split(' ').slice(0, 3).join(' '))
    expect(stored.output[0]).toMatchObject({ status: 'incomplete' })
    expect(await ledgerRows(world.stores, broken.turn.id)).toHaveLength(1)

    const refused = await orchestrator.send(world.userId, {
      requestId: requestId(),
      conversationId: conversation.id,
      input: 'two',
    })
    const refusal = terminalOf(await collect(orchestrator.attach(world.userId, refused.turn.id, 0)))
    expect(refusal).toMatchObject({
      type: 'turn.failed',
      error: { reason: 'upstream_unavailable' },
      turn: { status: 'failed' },
      output: [],
    })
    expect(await ledgerRows(world.stores, refused.turn.id)).toHaveLength(0)
  })

  it('reports turns, first tokens and provider calls to the observer', async () => {
    const seen: string[] = []
    const { orchestrator } = await start(
      { steps: [toolCallStep('clock', {}), textStep('It is late.')] },
      {
        observer: {
          turnStarted: () => seen.push('started'),
          firstToken: (ms) => seen.push(`first:${ms >= 0}`),
          providerCall: (ms, ok) => seen.push(`call:${ok && ms >= 0}`),
          turnFinished: (status) => seen.push(`finished:${status}`),
        },
      },
    )
    const conversation = await world.conversation()
    const { turn } = await orchestrator.send(world.userId, {
      requestId: requestId(),
      conversationId: conversation.id,
      input: 'time?',
    })
    await collect(orchestrator.attach(world.userId, turn.id, 0))
    expect(seen).toEqual(['started', 'first:true', 'call:true', 'call:true', 'finished:completed'])
  })
})

// Registered here to share this file's database: an embedded database per file is costly.
leaseTests(() => world)
resumeTests(() => world)
