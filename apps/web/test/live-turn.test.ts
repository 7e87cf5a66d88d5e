import { describe, expect, it } from 'vitest'
import {
  applyEvent,
  applyEvents,
  emptyLiveTurn,
  isFinished,
  lastEventId,
  turnText,
} from '../src/lib/live-turn.ts'
import { events, TURN_ID, toolReply, turn } from './fixtures.ts'

describe('stream assembly', () => {
  it('assembles text, tool steps and usage from the events of a turn', () => {
    const state = applyEvents(emptyLiveTurn(TURN_ID), toolReply())
    expect(state.status).toBe('completed')
    expect(isFinished(state)).toBe(true)
    expect(turnText(state.parts)).toBe('Hello world')
    expect(state.parts[0]).toEqual({
      kind: 'tool',
      itemId: 'item_call0000001',
      callId: 'call_1',
      name: 'calculator',
      arguments: '{"expression":"2+3"}',
      result: { output: '5', isError: false, durationMs: 3 },
    })
    expect(state.usage?.totalTokens).toBe(15)
    expect(state.gap).toBe(false)
  })

  it('shows partial text while streaming and resumes after the last event id', () => {
    const all = toolReply()
    const beforeReload = applyEvents(emptyLiveTurn(TURN_ID), all.slice(0, 6))
    expect(turnText(beforeReload.parts)).toBe('Hello')
    expect(beforeReload.status).toBe('streaming')
    expect(lastEventId(beforeReload)).toBe(`${TURN_ID}:6`)
    // The snapshot goes through sessionStorage as JSON.
    const restored = JSON.parse(JSON.stringify(beforeReload))
    const resumed = applyEvents(restored, all.slice(6))
    expect(turnText(resumed.parts)).toBe('Hello world')
  })

  it('ignores events it already applied: a resumed stream that repeats them adds no text', () => {
    const all = toolReply()
    const once = applyEvents(emptyLiveTurn(TURN_ID), all.slice(0, 7))
    // The transport resumed on its own from an older id, then our resume replays from 0.
    const twice = applyEvents(applyEvents(once, all.slice(3, 7)), all.slice(0, 7))
    expect(twice).toBe(once)
    expect(turnText(twice.parts)).toBe('Hello world')
  })

  it('ignores events of another turn', () => {
    const state = emptyLiveTurn('resp_BBBBBBBBBBBBBBBB')
    expect(applyEvents(state, toolReply())).toBe(state)
  })

  it('flags a hole in the sequence', () => {
    const all = toolReply()
    const state = applyEvents(emptyLiveTurn(TURN_ID), [all[0]!, all[5]!])
    expect(state.gap).toBe(true)
  })

  it('keeps the streamed text of a cancelled turn whose stored output is empty', () => {
    const list = events(
      { type: 'turn.started', turn: turn('streaming') },
      { type: 'item.started', itemId: 'item_msg00000001', itemType: 'message' },
      { type: 'text.delta', itemId: 'item_msg00000001', delta: 'Partial' },
      { type: 'turn.cancelled', turn: turn('cancelled'), output: [] },
    )
    const state = applyEvents(emptyLiveTurn(TURN_ID), list)
    expect(state.status).toBe('cancelled')
    expect(turnText(state.parts)).toBe('Partial')
  })

  it('uses the stored output of the terminal event when it differs from the deltas', () => {
    const list = events(
      { type: 'turn.started', turn: turn('streaming') },
      { type: 'text.delta', itemId: 'item_msg00000001', delta: 'Draft' },
      {
        type: 'turn.failed',
        turn: turn('failed'),
        error: { reason: 'stream_broken', message: 'The model stream broke' },
        output: [
          {
            id: 'item_msg00000001',
            type: 'message',
            role: 'assistant',
            status: 'incomplete',
            content: [{ type: 'output_text', text: 'Draft text', annotations: [] }],
          },
        ],
      },
    )
    const state = applyEvents(emptyLiveTurn(TURN_ID), list)
    expect(state.status).toBe('failed')
    expect(state.error?.reason).toBe('stream_broken')
    expect(turnText(state.parts)).toBe('Draft text')
  })

  it('does not change state for a duplicate terminal event', () => {
    const all = toolReply()
    const done = applyEvents(emptyLiveTurn(TURN_ID), all)
    expect(applyEvent(done, all.at(-1)!)).toBe(done)
  })
})
