/** How long a closed subscription's response may take to end before its connection is dropped. */
const DRAIN_MS = 1_000

/**
 * The `fetch` the SSE transport's EventSource uses. tRPC closes the EventSource the moment a
 * subscription returns, and the EventSource aborts its request: that throws the connection away,
 * although the server ends the response right after, so every subscription would open a new
 * one. Here the EventSource's side of the body stops at once (its read fails as aborted, so it
 * sees nothing more), while the rest of the response is read in the background for up to
 * `drainMs`: a response that ends in time leaves its connection open for the next request, and
 * one that does not is aborted then.
 */
export function reusingSseFetch(
  send: (input: Parameters<typeof fetch>[0], init?: RequestInit) => Promise<Response>,
  drainMs = DRAIN_MS,
): typeof fetch {
  return async (input, init) => {
    const outer = init?.signal
    outer?.throwIfAborted()
    const request = new AbortController()
    const abortNow = () => request.abort(outer?.reason)
    outer?.addEventListener('abort', abortNow, { once: true })
    let response: Response
    try {
      response = await send(input, { ...init, signal: request.signal })
    } finally {
      outer?.removeEventListener('abort', abortNow)
    }
    const body = response.body
    if (!body) return response

    const reader = body.getReader()
    let drained = false
    const drain = () => {
      if (drained) return
      drained = true
      const timer = setTimeout(() => request.abort(), drainMs)
      // In Node, a response left open must not keep the process alive.
      ;(timer as { unref?: () => void }).unref?.()
      const readRest = (): Promise<void> => reader.read().then(({ done }) => (done ? undefined : readRest()))
      readRest().then(
        () => clearTimeout(timer),
        () => clearTimeout(timer),
      )
    }
    let fail: (reason: unknown) => void = () => {}
    const stopped = new Promise<never>((_, reject) => {
      fail = reject
    })
    // Handled here too: after an abort, nothing may be racing it any more.
    stopped.catch(() => {})
    const onAbort = () => {
      fail(outer?.reason ?? new DOMException('The operation was aborted', 'AbortError'))
      drain()
    }
    if (outer?.aborted) onAbort()
    else outer?.addEventListener('abort', onAbort, { once: true })

    const relayed = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done, value } = await Promise.race([reader.read(), stopped])
        if (done) {
          outer?.removeEventListener('abort', onAbort)
          controller.close()
        } else {
          controller.enqueue(value)
        }
      },
      cancel() {
        outer?.removeEventListener('abort', onAbort)
        drain()
      },
    })
    return new Response(relayed, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    })
  }
}
