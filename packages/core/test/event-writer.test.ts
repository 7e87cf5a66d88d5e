import { describe, expect, it } from 'vitest'
import type { TurnEvent } from '../src/contracts/events.ts'
import { InProcessBus } from '../src/live/in-process-bus.ts'
import { TurnEventWriter } from '../src/orchestrator/event-writer.ts'
import type { EventLog } from '../src/ports/stores.ts'

const TURN = 'resp_writer0000000000000'

/** An event log that records each append (one append = one round trip). */
function recordingLog(failFirst = 0) {
  const batches: TurnEvent[][] = []
  let failures = failFirst
  const log: EventLog = {
    async append(events) {
      if (failures > 0) {
        failures--
        throw new Error('database unavailable')
      }
      batches.push(events)
    },
    async readAfter() {
      return []
    },
    async prune() {
      return 0
    },
  }
  return { log, batches, stored: () => batches.flat() }
}

const delta = (text: string) => ({ type: 'text.delta' as const, itemId: 'item_x', delta: text })
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const usage = {
  inputTokens: 1,
  outputTokens: 1,
  totalTokens: 2,
  cachedInputTokens: 0,
  reasoningTokens: 0,
  estimated: false,
}

describe('TurnEventWriter', () => {
  it('publishes every event at once and writes them in batches, not one write per token', async () => {
    const { log, batches, stored } = recordingLog()
    const bus = new InProcessBus()
    const live: number[] = []
    const unsubscribe = bus.subscribe(TURN, (event) => live.push(event.seq))
    const writer = new TurnEventWriter(TURN, log, bus, { maxEvents: 10, maxDelayMs: 1000 }, () => {})
    for (let index = 0; index < 25; index++) writer.emit(delta(`t${index}`))
    expect(live).toHaveLength(25)
    await writer.flush()
    expect(batches.map((batch) => batch.length)).toEqual([10, 10, 5])
    expect(stored().map((event) => event.seq)).toEqual(live)
    expect(stored()[0]).toMatchObject({ id: `${TURN}:1`, turnId: TURN, seq: 1 })
    unsubscribe()
    expect(bus.listenerCount).toBe(0)
  })

  it('flushes a partial batch after maxDelayMs', async () => {
    const { log, batches } = recordingLog()
    const writer = new TurnEventWriter(
      TURN,
      log,
      new InProcessBus(),
      { maxEvents: 100, maxDelayMs: 10 },
      () => {},
    )
    writer.emit(delta('a'))
    writer.emit(delta('b'))
    expect(batches).toHaveLength(0)
    await wait(40)
    expect(batches.map((batch) => batch.length)).toEqual([2])
  })

  it('hands the waiting batch and the terminal events to the closing statement, then publishes', async () => {
    const { log, batches, stored } = recordingLog()
    const bus = new InProcessBus()
    const live: TurnEvent[] = []
    bus.subscribe(TURN, (event) => live.push(event))
    const writer = new TurnEventWriter(TURN, log, bus, { maxEvents: 100, maxDelayMs: 1000 }, () => {})
    writer.emit(delta('a'))
    writer.emit(delta('b'))
    const closing = writer.closing([{ type: 'usage', usage }, delta('end')])
    expect(closing.events.map((event) => event.seq)).toEqual([1, 2, 3, 4])
    expect(closing.events[2]).toMatchObject({ id: `${TURN}:3`, turnId: TURN, type: 'usage' })
    // Until the statement stored them, the closing events are nowhere: not live, not in memory.
    expect(live.map((event) => event.seq)).toEqual([1, 2])
    expect(writer.lastSeq).toBe(2)
    await closing.commit()
    expect(live.map((event) => event.seq)).toEqual([1, 2, 3, 4])
    expect(writer.eventsAfter(2).map((event) => event.seq)).toEqual([3, 4])
    // The caller's statement wrote them all: the writer itself wrote nothing.
    expect(batches).toEqual([])
    expect(stored()).toEqual([])
  })

  it('puts the waiting batch back when the closing statement fails, and forgets the terminal events', async () => {
    const { log, stored } = recordingLog()
    const bus = new InProcessBus()
    const live: number[] = []
    bus.subscribe(TURN, (event) => live.push(event.seq))
    const writer = new TurnEventWriter(TURN, log, bus, { maxEvents: 100, maxDelayMs: 1000 }, () => {})
    writer.emit(delta('a'))
    const closing = writer.closing([{ type: 'usage', usage }])
    closing.abort()
    await writer.flush()
    expect(stored().map((event) => event.seq)).toEqual([1])
    expect(live).toEqual([1])
    expect(writer.lastSeq).toBe(1)
  })

  it('publishes the terminal events only once an earlier batch still being written is in the log', async () => {
    let release: () => void = () => {}
    const written: number[] = []
    const log: EventLog = {
      append: (events) =>
        new Promise((resolve) => {
          release = () => {
            written.push(...events.map((event) => event.seq))
            resolve()
          }
        }),
      readAfter: async () => [],
      prune: async () => 0,
    }
    const bus = new InProcessBus()
    const writtenWhenSeen: number[][] = []
    bus.subscribe(TURN, (event) => {
      if (event.type === 'usage') writtenWhenSeen.push([...written])
    })
    const writer = new TurnEventWriter(TURN, log, bus, { maxEvents: 1, maxDelayMs: 1000 }, () => {})
    writer.emit(delta('a'))
    const closing = writer.closing([{ type: 'usage', usage }])
    const committed = closing.commit()
    await wait(10)
    expect(writtenWhenSeen).toEqual([])
    release()
    await committed
    expect(writtenWhenSeen).toEqual([[1]])
  })

  it('keeps a failed batch and writes it with the next one, in order', async () => {
    const { log, stored } = recordingLog(1)
    const errors: unknown[] = []
    const writer = new TurnEventWriter(
      TURN,
      log,
      new InProcessBus(),
      { maxEvents: 2, maxDelayMs: 1000 },
      (error) => errors.push(error),
    )
    writer.emit(delta('a'))
    writer.emit(delta('b'))
    await writer.flush()
    expect(errors).toHaveLength(1)
    writer.emit(delta('c'))
    await writer.flush()
    expect(stored().map((event) => event.seq)).toEqual([1, 2, 3])
    expect(writer.eventsAfter(1).map((event) => event.seq)).toEqual([2, 3])
  })
})

describe('InProcessBus', () => {
  it('isolates a throwing listener and stops delivering after unsubscribe', () => {
    const bus = new InProcessBus()
    const got: number[] = []
    bus.subscribe(TURN, () => {
      throw new Error('bad listener')
    })
    const off = bus.subscribe(TURN, (event) => got.push(event.seq))
    const event = {
      type: 'text.delta',
      itemId: 'i',
      delta: 'x',
      id: `${TURN}:1`,
      turnId: TURN,
      seq: 1,
    } as const
    bus.publish(TURN, [event])
    off()
    bus.publish(TURN, [{ ...event, id: `${TURN}:2`, seq: 2 }])
    expect(got).toEqual([1])
  })
})
