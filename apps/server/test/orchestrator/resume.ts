import { isTerminalEvent } from '@parley/core'
import { type ScriptedStep, textStep, toolCallStep } from '@parley/providers/testing'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Disconnect } from './disconnects.ts'
import { collect, type Engine, engine, reconnectingClient, requestId, type World } from './harness.ts'

/** Text, a tool call, more text: every kind of event, with real pauses between chunks. */
function script(_request: unknown, callIndex: number): ScriptedStep {
  return callIndex % 2 === 0
    ? {
        ...toolCallStep('calculator', { expression: '6*7' }),
        text: 'Let me compute that for you.',
        delayMs: 1,
      }
    : textStep('The answer is forty-two, as computed by the calculator tool.', { delayMs: 2 })
}

/** The resume property; registered by orchestrator.test.ts on its database. */
export function resumeTests(current: () => World): void {
  describe('resume', () => {
    let world: World
    let runner: Engine
    let elsewhere: Engine

    beforeAll(async () => {
      world = current()
      // Small batches: log writes, live events and gaps interleave in every possible way.
      runner = await engine(world.stores, { steps: script }, { eventBatch: { maxEvents: 3, maxDelayMs: 4 } })
      // Another instance on the same database: no in-memory events, so it resumes from the log.
      elsewhere = await engine(world.stores, { steps: [] }, { attachPollMs: 200 })
    })
    afterAll(async () => {
      await runner.stop()
      await elsewhere.stop()
    })

    describe('resume across reconnects', () => {
      it('a client that reconnects with its last seq assembles exactly the full sequence', {
        timeout: 120_000,
      }, async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.array(Disconnect, { minLength: 1, maxLength: 12 }),
            fc.constantFrom('runner', 'elsewhere'),
            async (disconnects, via) => {
              const reader = (via === 'runner' ? runner : elsewhere).orchestrator
              const conversation = await world.conversation()
              const { turn } = await runner.orchestrator.send(world.userId, {
                requestId: requestId(),
                conversationId: conversation.id,
                input: 'what is 6*7?',
              })
              const assembled = await reconnectingClient(reader, world.userId, turn.id, disconnects)

              const full = await collect(runner.orchestrator.attach(world.userId, turn.id, 0))
              expect(full.map((event) => event.seq)).toEqual(full.map((_, index) => index + 1))
              expect(isTerminalEvent(full.at(-1)!)).toBe(true)
              expect(assembled).toEqual(full)
            },
          ),
          { numRuns: 16 },
        )
      })
    })
  })
}
