import type { TurnEvent } from '@parley/core'
import { collect, type connect } from '../helpers.ts'

/** The assistant text of stored (or event) output items. */
export function outputText(output: ReadonlyArray<unknown>): string {
  let text = ''
  for (const item of output) {
    if (!isRecord(item) || item['type'] !== 'message' || !Array.isArray(item['content'])) continue
    for (const part of item['content'])
      if (isRecord(part) && typeof part['text'] === 'string') text += part['text']
  }
  return text
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** Streams one turn with the real client and returns its events up to the terminal one. */
export function streamOnce(
  client: ReturnType<typeof connect>,
  input: { requestId: string; conversationId: string; input: string },
): Promise<TurnEvent[]> {
  return collect((handlers) => client.chat.stream.subscribe(input, handlers))
}

/** Polls until `check` holds (or throws after `timeoutMs`). */
export async function eventually<T>(
  probe: () => Promise<T>,
  check: (value: T) => boolean,
  timeoutMs = 15_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (check(value)) return value
    if (Date.now() > deadline)
      throw new Error(`condition not met in ${timeoutMs} ms: ${JSON.stringify(value)}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}
