import { V1Error } from './errors.ts'
import type { ListQuery } from './schemas.ts'
import type { WireList } from './wire.ts'

/**
 * One page of a list, cursor-paginated the Responses API way: `after` is the id of the last
 * item of the previous page, `order` is `asc` (oldest first) or `desc`. `items` come oldest first.
 */
export function listPage<T extends { id: string }>(items: T[], query: ListQuery): WireList<T> {
  const ordered = query.order === 'desc' ? [...items].reverse() : items
  let start = 0
  if (query.after !== undefined) {
    const at = ordered.findIndex((item) => item.id === query.after)
    if (at < 0)
      throw new V1Error(400, `No item found with id '${query.after}'`, {
        param: 'after',
        code: 'invalid_value',
      })
    start = at + 1
  }
  const data = ordered.slice(start, start + query.limit)
  return {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
    has_more: start + query.limit < ordered.length,
  }
}
