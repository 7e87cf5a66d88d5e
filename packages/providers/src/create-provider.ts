import { type Provider, ValidationError } from '@parley/core'
import { OpenAIChatProvider } from './openai/chat-provider.ts'
import { OpenAIResponsesProvider } from './openai/responses-provider.ts'
import type { RetryPolicy } from './retry.ts'
import { createDemoModel } from './scripted/demo.ts'

export type ProviderKind = 'scripted' | 'openai-responses' | 'openai-chat'

export const PROVIDER_KINDS: readonly ProviderKind[] = ['scripted', 'openai-responses', 'openai-chat']

export interface ProviderConfig {
  kind: ProviderKind
  apiKey?: string
  baseURL?: string
  model?: string
  /** openai-responses: keep state upstream and continue by previous_response_id (default true). */
  nativeState?: boolean
  /** OpenAI kinds: header wait and stream silence limits, and the retry policy. */
  timeoutMs?: number
  idleTimeoutMs?: number
  retry?: Partial<RetryPolicy>
  /** scripted: per-chunk delay (default PARLEY_SCRIPTED_DELAY_MS or 15 ms). */
  delayMs?: number
}

/** The one place that turns configuration into a Provider (the server's composition root calls it). */
export function createProvider(config: ProviderConfig): Provider {
  switch (config.kind) {
    case 'scripted':
      return createDemoModel({
        ...(config.delayMs === undefined ? {} : { delayMs: config.delayMs }),
        ...(config.model ? { model: config.model } : {}),
      })
    case 'openai-responses':
      requireKey(config)
      return new OpenAIResponsesProvider(openAIOptions(config))
    case 'openai-chat':
      requireKey(config)
      return new OpenAIChatProvider(openAIOptions(config))
    default:
      throw new ValidationError([{ path: 'kind', message: `must be one of ${PROVIDER_KINDS.join(', ')}` }])
  }
}

function requireKey(config: ProviderConfig): void {
  // A custom base URL usually means a local server that needs no key.
  if (!config.apiKey && !config.baseURL) {
    throw new ValidationError([
      { path: 'apiKey', message: `is required for ${config.kind} without a baseURL` },
    ])
  }
}

function openAIOptions(config: ProviderConfig) {
  return {
    ...(config.apiKey === undefined ? {} : { apiKey: config.apiKey }),
    ...(config.baseURL === undefined ? {} : { baseURL: config.baseURL }),
    ...(config.model === undefined ? {} : { model: config.model }),
    ...(config.nativeState === undefined ? {} : { nativeState: config.nativeState }),
    ...(config.timeoutMs === undefined ? {} : { timeoutMs: config.timeoutMs }),
    ...(config.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: config.idleTimeoutMs }),
    ...(config.retry === undefined ? {} : { retry: config.retry }),
  }
}
