import type { Item } from '@parley/core'

/** Conversations whose latest chain is kept (least recently used first out). */
const MAX_CONVERSATIONS = 256
/** Items kept across all of them: about 1 KB each for chat-sized messages. */
const MAX_ITEMS = 50_000

interface Entry {
  turnId: string
  /** The turn's context, then (once `complete`) its output: every item of its chain, in seq order. */
  items: Item[]
  /** The turn ended and its output is in `items`: a child claimed under it can start from them. */
  complete: boolean
}

/**
 * The latest chain of recently active conversations, so that the next turn of a long
 * conversation reads only its own input instead of its whole history. A turn's chain never
 * changes once the turn has ended (items are immutable, and ancestors ended before their
 * children were claimed), so an entry is never stale: it is only ever not the parent a new
 * turn is claimed under, and the claim's statement says which parent it used. The claim
 * still checks the user and the conversation in the database, so the cache never answers for
 * what the database would refuse. Per store, in memory: another instance's turns simply miss.
 *
 * The items handed out are shared between the callers of one conversation: callers get their
 * own arrays and must not change the items in them.
 */
export class ChainCache {
  readonly #entries = new Map<string, Entry>()
  #items = 0

  constructor(
    readonly maxConversations = MAX_CONVERSATIONS,
    readonly maxItems = MAX_ITEMS,
  ) {}

  /** The conversation's latest ended turn and its whole chain, if kept. */
  chainOf(conversationId: string): { turnId: string; items: Item[] } | undefined {
    const entry = this.#entries.get(conversationId)
    if (!entry?.complete) return undefined
    this.#entries.delete(conversationId)
    this.#entries.set(conversationId, entry)
    return entry
  }

  /** A turn started with this context: the conversation's latest chain, until it ends. */
  started(conversationId: string, turnId: string, context: Item[]): void {
    this.#set(conversationId, { turnId, items: context, complete: false })
  }

  /** The turn ended with this output: its chain is complete (when it is still the latest). */
  finished(conversationId: string, turnId: string, output: Item[]): void {
    const entry = this.#entries.get(conversationId)
    if (entry?.turnId !== turnId || entry.complete) return
    this.#set(conversationId, { turnId, items: entry.items.concat(output), complete: true })
  }

  get size(): { conversations: number; items: number } {
    return { conversations: this.#entries.size, items: this.#items }
  }

  #set(conversationId: string, entry: Entry): void {
    const previous = this.#entries.get(conversationId)
    if (previous) {
      this.#entries.delete(conversationId)
      this.#items -= previous.items.length
    }
    if (entry.items.length > this.maxItems) return
    this.#entries.set(conversationId, entry)
    this.#items += entry.items.length
    for (const [oldest, old] of this.#entries) {
      if (this.#entries.size <= this.maxConversations && this.#items <= this.maxItems) break
      this.#entries.delete(oldest)
      this.#items -= old.items.length
    }
  }
}
