import type { StartedTurn, TurnEvent } from '@parley/core'
import { describe, expect, it } from 'vitest'
import type { ParleyApi, WatchHandlers } from '../src/api/types.ts'
import { type KeyValueStorage, loadPending } from '../src/lib/pending.ts'
import { TurnController } from '../src/lib/turn-controller.ts'
import { TURN_ID, toolReply, turn } from './fixtures.ts'

const CONV = 'conv_AAAAAAAAAAAAAAAA'

class MemoryStorage implements KeyValueStorage {
  readonly map = new Map<string, string>()
  getItem(key: string) {
    return this.map.get(key) ?? null
  }
  setItem(key: string, value: string) {
    this.map.set(key, value)
  }
  removeItem(key: string) {
    this.map.delete(key)
  }
}

/** A fake server: records starts by request id and lets the test push events to watchers. */
function fakeApi(options: { failStarts?: number } = {}) {
  const startRequestIds: string[] = []
  const watches: {
    input: { turnId: string; lastEventId?: string }
    handlers: WatchHandlers
    closed: boolean
  }[] = []
  let failures = options.failStarts ?? 0
  const started = (): Promise<StartedTurn> => {
    if (failures > 0) {
      failures -= 1
      return Promise.reject(Object.assign(new Error('fetch failed'), { reason: 'network' }))
    }
    return Promise.resolve({ turn: turn('pending'), replayed: startRequestIds.length > 1 })
  }
  const api = {
    chat: {
      send: (input: { requestId: string }) => {
        startRequestIds.push(input.requestId)
        return started()
      },
      watch: (input: { turnId: string; lastEventId?: string }, handlers: WatchHandlers) => {
        const watch = { input, handlers, closed: false }
        watches.push(watch)
        return () => {
          watch.closed = true
        }
      },
      cancel: () => Promise.resolve(turn('cancelled')),
    },
  } as unknown as ParleyApi
  return { api, startRequestIds, watches }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0))

function controller(api: ParleyApi, storage: KeyValueStorage) {
  return new TurnController({ api, storage, conversationId: CONV, backoffMs: () => 0, snapshotIntervalMs: 0 })
}

function push(handlers: WatchHandlers, events: TurnEvent[]) {
  for (const event of events) handlers.onEvent(event)
}

describe('turn controller', () => {
  it('cancels a turn that Stop was asked for before its send was answered', async () => {
    const fake = fakeApi({ failStarts: 1 })
    const cancelled: string[] = []
    fake.api.chat.cancel = (turnId: string) => {
      cancelled.push(turnId)
      return Promise.resolve(turn('cancelled'))
    }
    const c = controller(fake.api, new MemoryStorage())
    c.start({ kind: 'send', text: 'hi' })
    // The first start failed and is being retried: no turn id yet.
    await c.stop()
    expect(cancelled).toEqual([])
    for (let i = 0; i < 10 && fake.watches.length === 0; i++) await tick()
    await tick()
    expect(fake.startRequestIds).toHaveLength(2)
    expect(cancelled).toEqual([TURN_ID])
  })

  it('retries a failed start with the same request id', async () => {
    const fake = fakeApi({ failStarts: 2 })
    const c = controller(fake.api, new MemoryStorage())
    c.start({ kind: 'send', text: 'hi' })
    for (let i = 0; i < 10 && fake.watches.length === 0; i++) await tick()
    expect(fake.startRequestIds).toHaveLength(3)
    expect(new Set(fake.startRequestIds).size).toBe(1)
    expect(fake.watches[0]?.input).toEqual({ turnId: TURN_ID })
  })

  it('after a reload resumes the same turn after its last event, without a new start', async () => {
    const storage = new MemoryStorage()
    const first = fakeApi()
    const before = controller(first.api, storage)
    before.start({ kind: 'send', text: 'hi' })
    await tick()
    const all = toolReply()
    push(first.watches[0]!.handlers, all.slice(0, 6))
    await tick()
    before.flush()
    expect(loadPending(storage, CONV)?.snapshot?.lastSeq).toBe(6)

    // A new page: same sessionStorage, fresh controller and API.
    const second = fakeApi()
    const after = controller(second.api, storage)
    expect(after.resume()).toBe(true)
    expect(second.startRequestIds).toHaveLength(0)
    expect(second.watches[0]?.input).toEqual({ turnId: TURN_ID, lastEventId: `${TURN_ID}:6` })
    // The server resumes after 6; the transport may also repeat an older event: no duplicate text.
    push(second.watches[0]!.handlers, all.slice(4))
    const state = after.getState()
    expect(state.connection).toBe('idle')
    expect(state.live?.parts.at(-1)).toMatchObject({ kind: 'text', text: 'Hello world' })
    expect(loadPending(storage, CONV)).toBeNull()
  })

  it('shows reconnecting and resubscribes after the last event when the stream breaks', async () => {
    const fake = fakeApi()
    const c = controller(fake.api, new MemoryStorage())
    c.start({ kind: 'send', text: 'hi' })
    await tick()
    const all = toolReply()
    push(fake.watches[0]!.handlers, all.slice(0, 7))
    fake.watches[0]!.handlers.onError(Object.assign(new Error('socket closed'), { reason: 'network' }))
    expect(c.getState().connection).toBe('reconnecting')
    expect(fake.watches[0]!.closed).toBe(true)
    await tick()
    expect(fake.watches[1]?.input).toEqual({ turnId: TURN_ID, lastEventId: `${TURN_ID}:7` })
    push(fake.watches[1]!.handlers, all.slice(7))
    expect(c.getState().connection).toBe('idle')
    expect(c.getState().live?.status).toBe('completed')
    expect(fake.startRequestIds).toHaveLength(1)
  })

  it('keeps a refused start for an explicit retry with the same id', async () => {
    const fake = fakeApi({ failStarts: 10 })
    const storage = new MemoryStorage()
    const c = new TurnController({
      api: fake.api,
      storage,
      conversationId: CONV,
      backoffMs: () => 0,
      maxStartAttempts: 2,
    })
    const pending = c.start({ kind: 'send', text: 'hi' })
    for (let i = 0; i < 10; i++) await tick()
    expect(c.getState().error?.network).toBe(true)
    expect(c.getState().connection).toBe('idle')
    c.retry()
    for (let i = 0; i < 10; i++) await tick()
    expect(fake.startRequestIds.every((id) => id === pending.requestId)).toBe(true)
    expect(fake.startRequestIds.length).toBe(4)
    expect(loadPending(storage, CONV)?.requestId).toBe(pending.requestId)
  })

  it('tells when an action has its turn, or why it could not start', async () => {
    const ok = controller(fakeApi().api, new MemoryStorage())
    expect(await ok.started(ok.start({ kind: 'send', text: 'hi' }))).toBeNull()
    expect(ok.getState().action?.turnId).toBe(TURN_ID)

    const refused = new TurnController({
      api: fakeApi({ failStarts: 10 }).api,
      storage: new MemoryStorage(),
      conversationId: CONV,
      backoffMs: () => 0,
      maxStartAttempts: 2,
    })
    expect(await refused.started(refused.start({ kind: 'send', text: 'hi' }))).toMatchObject({
      network: true,
    })
  })

  it('attaches to a turn started elsewhere from its first event', () => {
    const fake = fakeApi()
    const c = controller(fake.api, new MemoryStorage())
    c.attach(TURN_ID)
    expect(fake.watches[0]?.input).toEqual({ turnId: TURN_ID })
    push(fake.watches[0]!.handlers, toolReply())
    expect(c.getState().live?.status).toBe('completed')
  })
})

describe('turn controller overlay', () => {
  it('forgets a finished reply but never a running one', async () => {
    const fake = fakeApi()
    const c = controller(fake.api, new MemoryStorage())
    c.start({ kind: 'send', text: 'hi' })
    await tick()
    c.forget()
    expect(c.getState().action).not.toBeNull()
    push(fake.watches[0]!.handlers, toolReply())
    c.forget()
    expect(c.getState()).toEqual({ action: null, live: null, connection: 'idle', error: null })
  })
})
