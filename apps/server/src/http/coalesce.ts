import type { ServerResponse } from 'node:http'

/**
 * Makes the writes of one turn of the event loop leave as one socket write. An event stream
 * writes in small pieces — tRPC's SSE writes each event as three (`data:`, `id:`, the blank
 * line), and a model's burst of deltas arrives in one read — and each piece would otherwise
 * cost its own system call and wake the reader once more. The first write of a turn corks the
 * response; `setImmediate` uncorks it once the turn's callbacks and promise jobs have run, so
 * nothing waits longer than that turn. `end()` uncorks at once.
 */
export function coalesceWrites(res: ServerResponse): void {
  const write = res.write
  let corked = false
  const uncork = () => {
    corked = false
    res.uncork()
  }
  res.write = function (this: ServerResponse, ...args: Parameters<ServerResponse['write']>) {
    if (!corked && !res.writableEnded) {
      corked = true
      res.cork()
      setImmediate(uncork)
    }
    return write.apply(this, args)
  } as ServerResponse['write']
}
