export { createProvider, PROVIDER_KINDS, type ProviderConfig, type ProviderKind } from './create-provider.ts'
export { normalizeUpstreamError, retryAfterFromHeaders } from './errors.ts'
export { contextWindowOf } from './models.ts'
export type { OpenAIAdapterOptions } from './openai/attempt.ts'
export {
  chatMessagesToItems,
  chatMessageToItems,
  itemsToChatMessages,
} from './openai/chat-mapping.ts'
export { type OpenAIChatOptions, OpenAIChatProvider } from './openai/chat-provider.ts'
export { itemsToResponsesInput, responsesOutputToItems } from './openai/responses-mapping.ts'
export {
  OPENAI_DEFAULT_MODEL,
  type OpenAIResponsesOptions,
  OpenAIResponsesProvider,
} from './openai/responses-provider.ts'
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.ts'
export { createDemoModel, DEMO_ANNOUNCEMENT, parseDirectives } from './scripted/demo.ts'
