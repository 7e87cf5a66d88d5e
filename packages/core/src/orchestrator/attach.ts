import { eventId, isTerminalEvent, type TurnEvent, type TurnEventBody } from '../contracts/events.ts'
import { isTerminal, type Turn } from '../contracts/turn.ts'
import { NotFoundError, ValidationError } from '../errors.ts'
import type { LiveBus } from '../ports/live.ts'
import type { Stores, TurnWithItems } from '../ports/stores.ts'
import type { Clock } from '../ports/system.ts'
import type { TurnEventWriter } from './event-writer.ts'
import { toEventItem } from './items.ts'

export interface AttachDeps {
  stores: Stores
  bus: LiveBus
  clock: Clock
  /** The writer of a turn running in this process, if it is. */
  local(turnId: string): TurnEventWriter | undefined
  /** The turn of a run in this process and its owner: attaching to it needs no read. */
  localTurn?(turnId: string): { userId: string; turn: Turn } | undefined
  /** How long a subscriber waits in silence before checking the log and the turn (default 2 s). */
  pollMs: number
}

const PAGE = 1000
/** Longest wait between two reads of the log while a gap is open. */
const GAP_BACKOFF_MAX_MS = 250
/**
 * How long a gap may stay open before it is given up: only events lost with a process that died
 * before writing them can stay missing this long.
 */
const GAP_GIVE_UP_MS = 15_000
/** A terminal turn without a terminal event this long after it finished had its log pruned. */
const TERMINAL_GRACE_MS = 2000

/** How a subscriber attaches. */
export interface AttachOptions {
  /**
   * Deliver only the terminal event: for a caller that waits for the end of a turn and needs none
   * of the events before it (a non-streamed `/v1` response). Live events before the end are
   * dropped as they are published, so they cost the subscriber nothing, and no gap is waited for.
   */
  endOnly?: boolean
}

/**
 * The events of a turn with seq > afterSeq, exactly once each and in order, ending after the
 * terminal event. Subscribes first (buffering live events), then reads the backlog, then
 * delivers live events; a live event that arrives ahead of a gap waits until the gap is filled
 * from memory (turns running here) or from the log.
 */
export async function* attachEvents(
  deps: AttachDeps,
  userId: string,
  turnId: string,
  afterSeq: number,
  signal?: AbortSignal,
  options: AttachOptions = {},
): AsyncGenerator<TurnEvent> {
  const endOnly = options.endOnly === true
  if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) {
    throw new ValidationError([{ path: 'afterSeq', message: 'must be a non-negative integer' }])
  }
  const running = deps.localTurn?.(turnId)
  const found = running?.userId === userId ? running : await deps.stores.turns.get(userId, turnId)
  if (!found) throw new NotFoundError('turn', turnId)
  if (signal?.aborted) return

  const live: TurnEvent[] = []
  let wake: (() => void) | null = null
  const notify = () => {
    const resolve = wake
    wake = null
    resolve?.()
  }
  const unsubscribe = deps.bus.subscribe(turnId, (event) => {
    if (endOnly && !isTerminalEvent(event)) return
    live.push(event)
    notify()
  })
  signal?.addEventListener('abort', notify)
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      wake = done
    })

  /** Events after `seq` that can be had now: from memory when the turn runs here, else the log. */
  async function fetchAfter(seq: number): Promise<TurnEvent[]> {
    const writer = deps.local(turnId)
    if (writer) return writer.eventsAfter(seq)
    const out: TurnEvent[] = []
    for (;;) {
      const page = await deps.stores.events.readAfter(turnId, seq, PAGE)
      out.push(...page)
      const last = page.at(-1)
      if (page.length < PAGE || !last) return out
      seq = last.seq
    }
  }

  let last = afterSeq
  let gapSince: number | null = null
  let gapBackoff = 10
  let fetchNow = true
  // A finished turn whose log was pruned needs no wait before its terminal event is synthesized.
  let idleMs = isTerminal(found.turn.status) ? 0 : deps.pollMs
  try {
    for (;;) {
      if (signal?.aborted) return

      // Live events first: anything in order goes out at once.
      let pendingGap = false
      while (live.length > 0) {
        const head = live[0]!
        if (head.seq <= last) {
          live.shift()
          continue
        }
        if (endOnly) {
          // Only the end is wanted: the events before it are passed over, and none is waited for.
          if (!isTerminalEvent(head)) {
            live.shift()
            last = head.seq
            continue
          }
          last = head.seq - 1
        }
        if (head.seq !== last + 1) {
          pendingGap = true
          break
        }
        live.shift()
        last = head.seq
        gapSince = null
        yield head
        if (isTerminalEvent(head)) return
        if (signal?.aborted) return
      }

      if (fetchNow || pendingGap) {
        fetchNow = false
        const fetched = await fetchAfter(last)
        let delivered = false
        for (const event of fetched) {
          if (event.seq <= last) continue
          if (event.seq !== last + 1) break
          last = event.seq
          delivered = true
          if (endOnly && !isTerminalEvent(event)) continue
          yield event
          if (isTerminalEvent(event)) return
          if (signal?.aborted) return
        }
        if (delivered) {
          gapSince = null
          gapBackoff = 10
          continue
        }
        if (pendingGap) {
          // The missing events were published but are not in the log yet (another instance
          // batches its writes): read again shortly.
          const now = deps.clock.now().getTime()
          gapSince ??= now
          if (now - gapSince > GAP_GIVE_UP_MS) {
            last = live[0]!.seq - 1
            gapSince = null
            continue
          }
          await sleep(gapBackoff)
          gapBackoff = Math.min(GAP_BACKOFF_MAX_MS, gapBackoff * 2)
          fetchNow = true
          continue
        }
      }

      if (live.length > 0) continue
      const before = live.length
      await sleep(idleMs)
      idleMs = deps.pollMs
      if (live.length > before || signal?.aborted) continue

      // Silence: the log may have what the bus missed, or the turn ended elsewhere.
      const fetched = await fetchAfter(last)
      if (fetched.some((event) => event.seq === last + 1)) {
        live.unshift(...fetched.filter((event) => event.seq > last))
        live.sort((a, b) => a.seq - b.seq)
        continue
      }
      if (deps.local(turnId)) continue
      const current = await deps.stores.turns.get(userId, turnId)
      if (!current) return
      if (!isTerminal(current.turn.status)) continue
      const finishedAt = current.turn.completedAt ? Date.parse(current.turn.completedAt) : 0
      if (deps.clock.now().getTime() - finishedAt < TERMINAL_GRACE_MS) continue
      // A client that already had the terminal event and resumes after it gets nothing more.
      // Except `turn.interrupted`: the sweep writes it at the first seq its dead process never
      // flushed, a seq the client may have seen live as something else. Repeating the terminal
      // event is harmless; ending silently would leave the client waiting for one.
      const previous = last > 0 ? await deps.stores.events.readAfter(turnId, last - 1, 1) : []
      const seen = previous[0]
      if (seen?.seq === last && isTerminalEvent(seen) && seen.type !== 'turn.interrupted') return
      yield synthesizeTerminal(current, last + 1)
      return
    }
  } finally {
    unsubscribe()
    signal?.removeEventListener('abort', notify)
  }
}

/** The terminal event of a finished turn whose log no longer has it (pruned). */
export function synthesizeTerminal(found: TurnWithItems, seq: number): TurnEvent {
  const { turn } = found
  const output = found.output.map(toEventItem)
  let body: TurnEventBody
  switch (turn.status) {
    case 'completed':
      body = { type: 'turn.completed', turn, output }
      break
    case 'cancelled':
      body = { type: 'turn.cancelled', turn, output }
      break
    case 'failed':
      body = {
        type: 'turn.failed',
        turn,
        output,
        error: turn.error ?? { reason: 'internal', message: 'Internal error' },
      }
      break
    default:
      body = { type: 'turn.interrupted', turn, output }
  }
  return { ...body, id: eventId(turn.id, seq), turnId: turn.id, seq }
}
