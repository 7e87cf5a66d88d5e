import type { Turn, TurnEvent } from '@parley/core'

export const TURN_ID = 'resp_AAAAAAAAAAAAAAAA'

export function turn(status: Turn['status'], overrides: Partial<Turn> = {}): Turn {
  return {
    id: TURN_ID,
    conversationId: 'conv_AAAAAAAAAAAAAAAA',
    parentTurnId: null,
    requestId: 'req-1',
    status,
    provider: 'scripted',
    model: 'parley-demo',
    instructions: null,
    settings: {
      temperature: null,
      topP: null,
      maxOutputTokens: null,
      toolChoice: 'auto',
      parallelToolCalls: true,
      tools: [],
      metadata: {},
      store: true,
    },
    usage: null,
    error: null,
    upstreamResponseId: null,
    truncated: false,
    createdAt: '2025-01-01T00:00:00.000Z',
    completedAt: null,
    ...overrides,
  }
}

type Body = TurnEvent extends infer E
  ? E extends TurnEvent
    ? Omit<E, 'id' | 'turnId' | 'seq'>
    : never
  : never

/** Numbers events 1..n like the server does. */
export function events(...bodies: Body[]): TurnEvent[] {
  return bodies.map(
    (body, index) =>
      ({ ...body, id: `${TURN_ID}:${index + 1}`, turnId: TURN_ID, seq: index + 1 }) as TurnEvent,
  )
}

export const USAGE = {
  inputTokens: 10,
  outputTokens: 5,
  totalTokens: 15,
  cachedInputTokens: 0,
  reasoningTokens: 0,
  estimated: false,
}

/** A reply "Hello world" with a calculator call in between, then completion. */
export function toolReply(): TurnEvent[] {
  return events(
    { type: 'turn.started', turn: turn('streaming') },
    { type: 'item.started', itemId: 'item_call0000001', itemType: 'function_call' },
    {
      type: 'tool.call',
      itemId: 'item_call0000001',
      callId: 'call_1',
      name: 'calculator',
      arguments: '{"expression":"2+3"}',
      executor: 'server',
    },
    {
      type: 'tool.result',
      itemId: 'item_out00000001',
      callId: 'call_1',
      name: 'calculator',
      output: '5',
      isError: false,
      durationMs: 3,
    },
    { type: 'item.started', itemId: 'item_msg00000001', itemType: 'message' },
    { type: 'text.delta', itemId: 'item_msg00000001', delta: 'Hello' },
    { type: 'text.delta', itemId: 'item_msg00000001', delta: ' world' },
    { type: 'usage', usage: USAGE },
    {
      type: 'turn.completed',
      turn: turn('completed', { usage: USAGE }),
      output: [
        {
          id: 'item_call0000001',
          type: 'function_call',
          call_id: 'call_1',
          name: 'calculator',
          arguments: '{"expression":"2+3"}',
          status: 'completed',
        },
        {
          id: 'item_out00000001',
          type: 'function_call_output',
          call_id: 'call_1',
          output: '5',
          status: 'completed',
          is_error: false,
          duration_ms: 3,
        },
        {
          id: 'item_msg00000001',
          type: 'message',
          role: 'assistant',
          status: 'completed',
          content: [{ type: 'output_text', text: 'Hello world', annotations: [] }],
        },
      ],
    },
  )
}
