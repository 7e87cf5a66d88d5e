import type { ItemBody, ProviderRequest } from '@parley/core'
import { userText } from '@parley/core'

/** Retries that keep the suite fast but still back off. */
export const FAST_RETRY = { baseDelayMs: 5, maxDelayMs: 20 }

export function providerRequest(overrides: Partial<ProviderRequest> = {}): ProviderRequest {
  return {
    model: 'gpt-4.1-mini',
    instructions: null,
    input: [userText('Hello there')],
    tools: [],
    toolChoice: 'auto',
    parallelToolCalls: true,
    temperature: null,
    topP: null,
    maxOutputTokens: null,
    signal: new AbortController().signal,
    ...overrides,
  }
}

export const CALCULATOR_TOOL = {
  name: 'calculator',
  description: 'Evaluates an arithmetic expression',
  parameters: {
    type: 'object',
    properties: { expression: { type: 'string' } },
    required: ['expression'],
    additionalProperties: false,
  },
  strict: true,
}

export const CLOCK_TOOL = {
  name: 'clock',
  description: 'Current time',
  parameters: { type: 'object', properties: {}, additionalProperties: false },
  strict: true,
}

export function functionCall(callId: string, name: string, args: unknown): ItemBody {
  return {
    type: 'function_call',
    call_id: callId,
    name,
    arguments: JSON.stringify(args),
    status: 'completed',
  }
}

export function functionOutput(callId: string, output: string): ItemBody {
  return { type: 'function_call_output', call_id: callId, output, status: 'completed' }
}

/** Resolves with the time it took, in ms. */
export async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now()
  const value = await run()
  return { value, ms: performance.now() - started }
}
