import type { ItemBody, ProviderRequest, UpstreamReason } from '@parley/core'
import { ScriptedModel, type ScriptedStep } from './scripted-model.ts'

/** Every demo reply starts with this, so nobody mistakes it for a real model. */
export const DEMO_ANNOUNCEMENT = 'Parley demo model (offline, no API key configured).'

export const DEMO_DEFAULT_DELAY_MS = 15

const UPSTREAM_REASONS: ReadonlySet<string> = new Set<UpstreamReason>([
  'upstream_rate_limited',
  'upstream_auth',
  'upstream_bad_request',
  'context_length_exceeded',
  'upstream_unavailable',
  'upstream_timeout',
  'stream_broken',
  'previous_response_not_found',
])

/** Directives end-to-end tests put anywhere in the user's text. */
export interface DemoDirectives {
  words?: number
  delayMs?: number
  fail?: UpstreamReason
  breakAfter?: number
}

const DIRECTIVE = /\[\[(words|delay|fail|break):([A-Za-z0-9_]+)\]\]/g

export function parseDirectives(text: string): { directives: DemoDirectives; text: string } {
  const directives: DemoDirectives = {}
  const rest = text.replace(DIRECTIVE, (whole, name: string, value: string) => {
    const number = /^\d{1,7}$/.test(value) ? Number(value) : undefined
    if (name === 'words' && number !== undefined) directives.words = number
    else if (name === 'delay' && number !== undefined) directives.delayMs = number
    else if (name === 'break' && number !== undefined) directives.breakAfter = number
    else if (name === 'fail' && UPSTREAM_REASONS.has(value)) directives.fail = value as UpstreamReason
    else return whole
    return ''
  })
  return { directives, text: rest.replace(/\s+/g, ' ').trim() }
}

function lastUserText(input: ItemBody[]): string {
  for (let i = input.length - 1; i >= 0; i -= 1) {
    const item = input[i]
    if (item?.type === 'message' && item.role === 'user') {
      return item.content
        .map((part) => (part.type === 'input_text' || part.type === 'output_text' ? part.text : ''))
        .join(' ')
    }
  }
  return ''
}

/** The function_call_output items at the end of the context, with the names of their calls. */
function trailingToolResults(input: ItemBody[]): { name: string; output: string }[] {
  const results: { name: string; output: string }[] = []
  for (let i = input.length - 1; i >= 0; i -= 1) {
    const item = input[i]
    if (item?.type !== 'function_call_output') break
    const call = input.find((other) => other.type === 'function_call' && other.call_id === item.call_id)
    results.unshift({ name: call?.type === 'function_call' ? call.name : 'tool', output: item.output })
  }
  return results
}

const FILLER = ['and', 'so', 'the', 'demo', 'model', 'keeps', 'streaming', 'words', 'for', 'this', 'reply']

/** Exactly `count` words: the reply's own words first, then deterministic filler. */
function toWordCount(reply: string, count: number): string {
  const words = reply.split(/\s+/).filter(Boolean)
  for (let i = 0; words.length < count; i += 1) words.push(FILLER[i % FILLER.length] ?? 'word')
  return words.slice(0, count).join(' ')
}

function excerpt(text: string, max = 200): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

/**
 * The demo behaviour: echo, call `clock` when asked for the time, call `calculator` for
 * `calc: <expression>`, and report a tool's result after it ran.
 */
export function demoStep(request: ProviderRequest, defaultDelayMs: number): ScriptedStep {
  const { directives, text } = parseDirectives(lastUserText(request.input))
  const delayMs = directives.delayMs ?? defaultDelayMs
  if (directives.fail) return { error: directives.fail }
  const base: ScriptedStep =
    directives.breakAfter === undefined ? { delayMs } : { delayMs, breakAfterChunks: directives.breakAfter }
  const offered = new Set(request.tools.map((tool) => tool.name))

  const results = trailingToolResults(request.input)
  let reply: string
  if (results.length > 0) {
    const said = results
      .map((result) => `The ${result.name} tool returned: ${excerpt(result.output)}`)
      .join(' ')
    reply = `${DEMO_ANNOUNCEMENT} ${said}`
  } else {
    const calc = /calc:\s*([^\n]+)/i.exec(text)
    const expression = calc?.[1]?.trim()
    if (expression && offered.has('calculator')) {
      return {
        ...base,
        text: DEMO_ANNOUNCEMENT,
        toolCalls: [{ name: 'calculator', arguments: { expression } }],
      }
    }
    if (/time/i.test(text) && offered.has('clock')) {
      return { ...base, text: DEMO_ANNOUNCEMENT, toolCalls: [{ name: 'clock', arguments: {} }] }
    }
    reply = text
      ? `${DEMO_ANNOUNCEMENT} You said: "${excerpt(text)}". Set OPENAI_API_KEY to talk to a real model.`
      : `${DEMO_ANNOUNCEMENT} Say something and it will be echoed back.`
  }
  return { ...base, text: directives.words === undefined ? reply : toWordCount(reply, directives.words) }
}

export interface DemoModelOptions {
  /** Per-chunk delay; default `PARLEY_SCRIPTED_DELAY_MS` or 15 ms, so that a UI visibly streams. */
  delayMs?: number
  /** The model new turns record (`PARLEY_MODEL`); default `parley-demo`. */
  model?: string
}

export function demoDelayFromEnv(env: Record<string, string | undefined> = process.env): number {
  const raw = env['PARLEY_SCRIPTED_DELAY_MS']
  if (raw === undefined || raw.trim() === '') return DEMO_DEFAULT_DELAY_MS
  const value = Number(raw)
  return Number.isInteger(value) && value >= 0 ? value : DEMO_DEFAULT_DELAY_MS
}

/** The `scripted` provider: a ScriptedModel with the demo behaviour. */
export function createDemoModel(options: DemoModelOptions = {}): ScriptedModel {
  const delayMs = options.delayMs ?? demoDelayFromEnv()
  return new ScriptedModel({
    steps: (request) => demoStep(request, delayMs),
    delayMs,
    keepRequests: 20,
    ...(options.model ? { defaultModel: options.model } : {}),
  })
}
