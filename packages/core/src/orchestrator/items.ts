import type { EventItem } from '../contracts/events.ts'
import type { Item, ItemBody } from '../contracts/items.ts'

/** The body of a stored item: what a provider or a client sees, without storage fields. */
export function itemBody(item: Item): ItemBody {
  const {
    id: _id,
    conversationId: _c,
    turnId: _t,
    seq: _s,
    side: _side,
    tokenCount: _n,
    createdAt: _at,
    ...body
  } = item
  return body
}

/** A stored item as events carry it: its body and its id. */
export function toEventItem(item: Item): EventItem {
  return { ...itemBody(item), id: item.id }
}
