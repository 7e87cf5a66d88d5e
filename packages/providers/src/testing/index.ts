/**
 * Test helpers: a deterministic model that tests script step by step, and a way to drain a
 * provider stream. Import from `@parley/providers/testing`.
 */
import type { ProviderEvent } from '@parley/core'

export {
  createDemoModel,
  DEMO_ANNOUNCEMENT,
  demoStep,
  parseDirectives,
} from '../scripted/demo.ts'
export {
  errorStep,
  type RecordedRequest,
  ScriptedModel,
  type ScriptedModelOptions,
  type ScriptedStep,
  type ScriptedToolCall,
  type StepSource,
  splitIntoChunks,
  textStep,
  toolCallStep,
} from '../scripted/scripted-model.ts'

/** Everything a provider stream yields, plus the error that ended it (if any). */
export interface CollectedStream {
  events: ProviderEvent[]
  text: string
  toolCalls: Extract<ProviderEvent, { type: 'tool_call' }>[]
  error: unknown
}

export async function collectStream(stream: AsyncIterable<ProviderEvent>): Promise<CollectedStream> {
  const events: ProviderEvent[] = []
  let error: unknown
  try {
    for await (const event of stream) events.push(event)
  } catch (caught) {
    error = caught
  }
  return {
    events,
    text: events.map((event) => (event.type === 'text.delta' ? event.delta : '')).join(''),
    toolCalls: events.filter(
      (event): event is Extract<ProviderEvent, { type: 'tool_call' }> => event.type === 'tool_call',
    ),
    error,
  }
}
