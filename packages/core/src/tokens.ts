import type { Tiktoken } from 'js-tiktoken/lite'
import type { ItemBody } from './contracts/items.ts'

/**
 * Token counting with the o200k_base encoding, used when a provider reports no usage (the
 * result is then marked `estimated`) and for per-item counts and context truncation.
 *
 * The rank table is about 2 MB and takes a second or more to parse, so it is imported lazily
 * on first use (or through `warmUpTokenizer()` in the background at start-up).
 */

let loading: Promise<Tiktoken> | null = null

function loadEncoder(): Promise<Tiktoken> {
  loading ??= (async () => {
    const [{ Tiktoken: Encoder }, ranks] = await Promise.all([
      import('js-tiktoken/lite'),
      import('js-tiktoken/ranks/o200k_base'),
    ])
    return new Encoder(ranks.default)
  })()
  loading.catch(() => {
    loading = null
  })
  return loading
}

/** Starts loading the rank table without waiting for it. */
export function warmUpTokenizer(): void {
  loadEncoder().catch(() => {})
}

// The BPE merge of js-tiktoken is quadratic in the length of one pre-tokenized piece: a long run
// without whitespace (base64, a minified blob, "aaaa…") takes seconds. Such runs are counted in
// short slices, and beyond a sample they are extrapolated: an estimate is all these counts need.
const LONG_RUN = /\S{65,}/g
const SLICE = 64
const SAMPLE_CHARS = 4096

function countLongRun(encoder: Tiktoken, run: string): number {
  let tokens = 0
  let counted = 0
  for (; counted < run.length && counted < SAMPLE_CHARS; counted += SLICE) {
    tokens += encoder.encode(run.slice(counted, counted + SLICE)).length
  }
  counted = Math.min(counted, run.length)
  return counted >= run.length ? tokens : Math.ceil((tokens * run.length) / counted)
}

function countWith(encoder: Tiktoken, text: string): number {
  if (text.length === 0) return 0
  let tokens = 0
  let from = 0
  for (const match of text.matchAll(LONG_RUN)) {
    const at = match.index ?? 0
    if (at > from) tokens += encoder.encode(text.slice(from, at)).length
    tokens += countLongRun(encoder, match[0])
    from = at + match[0].length
  }
  if (from < text.length) tokens += encoder.encode(text.slice(from)).length
  return tokens
}

/** Fixed cost of an item's framing (role, separators), as in OpenAI's own accounting. */
export const ITEM_OVERHEAD_TOKENS = 4

/** The text of an item that reaches the model. */
export function itemText(item: ItemBody): string {
  switch (item.type) {
    case 'message':
      return item.content
        .map((part) => {
          if (part.type === 'input_text' || part.type === 'output_text') return part.text
          if (part.type === 'refusal') return part.refusal
          return ''
        })
        .join('')
    case 'function_call':
      return `${item.name}${item.arguments}`
    case 'function_call_output':
      return item.output
    case 'reasoning':
      return item.summary.map((part) => part.text).join('')
  }
}

// An image costs a flat amount in this estimate (OpenAI bills 85 tokens for a low-detail tile).
const IMAGE_TOKENS = 85

export interface TokenCounter {
  count(text: string): number
  countItem(item: ItemBody): number
}

/** A counter once the encoder is loaded. */
export async function tokenCounter(): Promise<TokenCounter> {
  const encoder = await loadEncoder()
  const count = (text: string) => countWith(encoder, text)
  return {
    count,
    countItem(item) {
      const images =
        item.type === 'message' ? item.content.filter((part) => part.type === 'input_image').length : 0
      return ITEM_OVERHEAD_TOKENS + count(itemText(item)) + images * IMAGE_TOKENS
    },
  }
}

export async function countTokens(text: string): Promise<number> {
  return (await tokenCounter()).count(text)
}
