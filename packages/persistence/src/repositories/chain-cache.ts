import type { ContextItem } from '@parley/core'

/** Chains kept (least recently used first out). */
const MAX_CHAINS = 512
/**
 * Items referenced across all of them (counted per chain, though chains share items): context
 * items (body, turn id, token count), about 1 KB each for chat-sized messages.
 */
const MAX_ITEMS = 50_000

interface Chain {
  conversationId: string
  /** The turn's context, then (once `complete`) its output: every item of its chain, in seq order. */
  items: ContextItem[]
  /** The turn has ended and its output is in `items`: a turn claimed under it can start from them. */
  complete: boolean
}

/**
 * Chains of recently used turns (a turn's items and all its ancestors'), so that a turn
 * claimed under one of them reads only its own input instead of its whole history: the next
 * turn of a conversation, or another continuation of the same response. A chain never changes
 * once its turn has ended (items are immutable, and ancestors ended before their children were
 * claimed), so a kept chain is never stale; the claim's statement says which parent it used,
 * and still checks the user and the conversation in the database, so the cache never answers
 * for what the database would refuse. Per store, in memory: another instance's turns miss.
 *
 * The items handed out are shared between callers: callers get their own arrays and must not
 * change the items in them.
 */
export class ChainCache {
  readonly #chains = new Map<string, Chain>()
  /** Per conversation, the turn that ended last through this store. */
  readonly #latest = new Map<string, string>()
  #items = 0

  constructor(
    readonly maxChains = MAX_CHAINS,
    readonly maxItems = MAX_ITEMS,
  ) {}

  /** The whole chain of an ended turn, when kept. */
  chainOf(turnId: string): ContextItem[] | undefined {
    const chain = this.#chains.get(turnId)
    if (!chain?.complete) return undefined
    this.#chains.delete(turnId)
    this.#chains.set(turnId, chain)
    return chain.items
  }

  /** The turn of the conversation that ended last here, and its whole chain, when kept. */
  latestOf(conversationId: string): { turnId: string; items: ContextItem[] } | undefined {
    const turnId = this.#latest.get(conversationId)
    const items = turnId === undefined ? undefined : this.chainOf(turnId)
    return turnId !== undefined && items ? { turnId, items } : undefined
  }

  /** The whole chain of an ended turn, as read from the database. */
  read(conversationId: string, turnId: string, items: ContextItem[]): void {
    this.#set(turnId, { conversationId, items, complete: true })
  }

  /** A turn started with this context: its chain, until it ends. */
  started(conversationId: string, turnId: string, context: ContextItem[]): void {
    this.#set(turnId, { conversationId, items: context, complete: false })
  }

  /** The turn ended with this output (all of it): its chain is complete. */
  finished(turnId: string, output: ContextItem[]): void {
    const chain = this.#chains.get(turnId)
    if (!chain || chain.complete) return
    this.#set(turnId, { ...chain, items: chain.items.concat(output), complete: true })
    this.#latest.set(chain.conversationId, turnId)
  }

  get size(): { chains: number; items: number } {
    return { chains: this.#chains.size, items: this.#items }
  }

  #set(turnId: string, chain: Chain): void {
    this.#drop(turnId)
    if (chain.items.length > this.maxItems) return
    this.#chains.set(turnId, chain)
    this.#items += chain.items.length
    for (const oldest of this.#chains.keys()) {
      if (this.#chains.size <= this.maxChains && this.#items <= this.maxItems) break
      this.#drop(oldest)
    }
  }

  #drop(turnId: string): void {
    const chain = this.#chains.get(turnId)
    if (!chain) return
    this.#chains.delete(turnId)
    this.#items -= chain.items.length
    if (this.#latest.get(chain.conversationId) === turnId) this.#latest.delete(chain.conversationId)
  }
}
