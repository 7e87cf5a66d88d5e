/**
 * A fake OpenAI upstream for tests and benchmarks: a real HTTP server that speaks the Responses
 * and Chat Completions wire formats (JSON and SSE), scriptable per request, with faults on demand.
 */
export type {
  Fault,
  RecordedCall,
  UpstreamEndpoint,
  UpstreamHandler,
  UpstreamScript,
  UpstreamToolCall,
  UpstreamUsage,
} from './script.ts'
export { type FakeUpstream, type FakeUpstreamOptions, startFakeUpstream } from './server.ts'
