import { assistantText, type EventItem, eventId, type Turn, type TurnEvent, TurnSettings } from '@parley/core'
import { describe, expect, it } from 'vitest'
import { ResponseEventMapper } from '../../src/v1/stream-events.ts'
import type { WireStreamEvent } from '../../src/v1/wire.ts'

const TURN_ID = 'resp_AAAAAAAAAAAAAAAAAAAAAAAA'
const MESSAGE_ID = 'item_MMMMMMMMMMMMMMMMMMMMMMMM'
const CALL_ID = 'item_CCCCCCCCCCCCCCCCCCCCCCCC'

function turn(status: Turn['status']): Turn {
  return {
    id: TURN_ID,
    conversationId: 'conv_AAAAAAAAAAAAAAAAAAAAAAAA',
    parentTurnId: null,
    requestId: 'req-1',
    status,
    provider: 'scripted',
    model: 'gpt-fake',
    instructions: null,
    settings: TurnSettings.parse({}),
    usage: null,
    error: status === 'failed' ? { reason: 'stream_broken', message: 'The upstream stream broke' } : null,
    upstreamResponseId: null,
    truncated: false,
    createdAt: '2026-01-01T00:00:00.000Z',
    completedAt: status === 'streaming' ? null : '2026-01-01T00:00:01.000Z',
  }
}

/** Numbers bodies as a turn's log does: seq from 1, ids "<turnId>:<seq>". */
function log(...bodies: Record<string, unknown>[]): TurnEvent[] {
  return bodies.map(
    (body, index) =>
      ({ ...body, id: eventId(TURN_ID, index + 1), turnId: TURN_ID, seq: index + 1 }) as TurnEvent,
  )
}

function mapAll(events: TurnEvent[]): WireStreamEvent[] {
  const mapper = new ResponseEventMapper()
  return events.flatMap((event) => mapper.map(event))
}

const message: EventItem = { ...assistantText('Hello world'), id: MESSAGE_ID }

const textTurn = log(
  { type: 'turn.started', turn: turn('streaming') },
  { type: 'item.started', itemId: MESSAGE_ID, itemType: 'message' },
  { type: 'text.delta', itemId: MESSAGE_ID, delta: 'Hello' },
  { type: 'text.delta', itemId: MESSAGE_ID, delta: ' world' },
  { type: 'item.completed', item: message },
  { type: 'usage', usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 } },
  { type: 'turn.completed', turn: turn('completed'), output: [message] },
)

describe('TurnEvents → Responses stream events', () => {
  it('maps a text turn to the documented order, numbered from 0 without gaps', () => {
    const events = mapAll(textTurn)
    expect(events.map((event) => event.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ])
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index))
    const done = events.find((event) => event.type === 'response.output_text.done')
    expect(done).toMatchObject({
      text: 'Hello world',
      item_id: MESSAGE_ID,
      output_index: 0,
      content_index: 0,
    })
  })

  it('is deterministic: a replay of the same log yields identical events', () => {
    expect(JSON.stringify(mapAll(textTurn))).toBe(JSON.stringify(mapAll(textTurn)))
  })

  it('announces a client function call with its name and whole arguments', () => {
    const call: EventItem = {
      type: 'function_call',
      call_id: 'call_1',
      name: 'get_weather',
      arguments: '{"city":"Paris"}',
      status: 'completed',
      id: CALL_ID,
    }
    const events = mapAll(
      log(
        { type: 'turn.started', turn: turn('streaming') },
        { type: 'item.started', itemId: CALL_ID, itemType: 'function_call' },
        {
          type: 'tool.call',
          itemId: CALL_ID,
          callId: 'call_1',
          name: 'get_weather',
          arguments: '{"city":"Paris"}',
          executor: 'client',
        },
        { type: 'item.completed', item: call },
        { type: 'turn.completed', turn: turn('completed'), output: [call] },
      ),
    )
    expect(events.map((event) => event.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ])
    expect(events[2]).toMatchObject({
      item: { type: 'function_call', name: 'get_weather', call_id: 'call_1' },
    })
    expect(events[4]).toMatchObject({ name: 'get_weather', arguments: '{"city":"Paris"}' })
  })

  it('closes a message cut off by a cancel and ends with response.incomplete (status cancelled)', () => {
    const partial: EventItem = {
      type: 'message',
      role: 'assistant',
      status: 'incomplete',
      content: [{ type: 'output_text', text: 'Hel', annotations: [] }],
      id: MESSAGE_ID,
    }
    const events = mapAll(
      log(
        { type: 'turn.started', turn: turn('streaming') },
        { type: 'item.started', itemId: MESSAGE_ID, itemType: 'message' },
        { type: 'text.delta', itemId: MESSAGE_ID, delta: 'Hel' },
        { type: 'turn.cancelled', turn: turn('cancelled'), output: [partial] },
      ),
    )
    expect(events.slice(5).map((event) => event.type)).toEqual([
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.incomplete',
    ])
    const last = events.at(-1)
    expect(last?.type === 'response.incomplete' && last.response.status).toBe('cancelled')
  })

  it('reports a failure as an error event followed by response.failed', () => {
    const events = mapAll(
      log(
        { type: 'turn.started', turn: turn('streaming') },
        {
          type: 'turn.failed',
          turn: turn('failed'),
          error: { reason: 'stream_broken', message: 'broke' },
          output: [],
        },
      ),
    )
    expect(events.map((event) => event.type)).toEqual([
      'response.created',
      'response.in_progress',
      'error',
      'response.failed',
    ])
    expect(events[2]).toMatchObject({ code: 'stream_broken' })
    const failed = events[3]
    expect(failed?.type === 'response.failed' && failed.response.error?.code).toBe('stream_broken')
  })

  it('opens the stream of a pruned log (only its synthesized terminal event) with response.created', () => {
    const pruned: TurnEvent[] = [
      {
        type: 'turn.completed',
        turn: turn('completed'),
        output: [message],
        id: eventId(TURN_ID, 9),
        turnId: TURN_ID,
        seq: 9,
      },
    ]
    expect(mapAll(pruned).map((event) => event.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ])
  })
})
