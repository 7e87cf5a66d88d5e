import type { StartedTurn, TurnEvent } from '@parley/core'
import { type ApiErrorInfo, errorInfo, type ParleyApi, type Unsubscribe } from '../api/types.ts'
import {
  applyEvent,
  emptyLiveTurn,
  isFinished,
  isTerminalType,
  type LiveTurn,
  lastEventId,
} from './live-turn.ts'
import {
  clearPending,
  type KeyValueStorage,
  loadPending,
  type PendingAction,
  type PendingSend,
  savePending,
} from './pending.ts'
import { newRequestId } from './request-id.ts'

/**
 * Runs the user's actions on one conversation (send, regenerate, edit) and follows the reply:
 * - one request id per action, kept in sessionStorage and reused by every retry, so a retried
 *   start never makes a second model call;
 * - the reply is followed with `chat.watch` and resumed after the last applied event when the
 *   connection drops or the page reloads (the assembled text is stored with its event id);
 * - a turn started elsewhere (another tab) is attached to from its first event.
 */
export type Connection = 'idle' | 'starting' | 'streaming' | 'reconnecting'

export interface ControllerState {
  /** The current or last action of this tab (for the optimistic user message). */
  action: PendingSend | null
  live: LiveTurn | null
  connection: Connection
  /** A failed start: `retry()` repeats it with the same request id when `error.network`. */
  error: ApiErrorInfo | null
}

export interface ControllerOptions {
  api: ParleyApi
  storage: KeyValueStorage
  conversationId: string
  /** Called when a turn starts (head moved) and when it ends: refresh lists. */
  onTurnStarted?(turnId: string): void
  onSettled?(turnId: string): void
  /** Backoff before the n-th retry (1-based), in ms. */
  backoffMs?(attempt: number): number
  maxStartAttempts?: number
  snapshotIntervalMs?: number
}

const IDLE: ControllerState = { action: null, live: null, connection: 'idle', error: null }

export class TurnController {
  private state: ControllerState = IDLE
  private readonly listeners = new Set<() => void>()
  private unsubscribe: Unsubscribe | null = null
  private retryTimer: ReturnType<typeof setTimeout> | null = null
  private snapshotTimer: ReturnType<typeof setTimeout> | null = null
  private generation = 0
  private watchAttempts = 0
  private disposed = false
  /** Stop was asked for before the send had its turn. */
  private stopWhenStarted = false

  constructor(private readonly options: ControllerOptions) {}

  getState = (): ControllerState => this.state

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** True while an action of this tab is unfinished (started, streaming or failed to start). */
  get busy(): boolean {
    return this.state.action !== null && (this.state.connection !== 'idle' || this.state.error !== null)
  }

  /** Picks up an unfinished action of this tab after a reload; false when there is none. */
  resume(): boolean {
    if (this.state.action && this.state.connection !== 'idle') return true
    const pending = loadPending(this.options.storage, this.options.conversationId)
    if (!pending) return false
    this.run(pending)
    return true
  }

  start(action: PendingAction): PendingSend {
    const pending = {
      ...action,
      conversationId: this.options.conversationId,
      requestId: newRequestId(),
      turnId: null,
      snapshot: null,
      createdAt: Date.now(),
    } as PendingSend
    savePending(this.options.storage, pending)
    this.run(pending)
    return pending
  }

  /** Settles once the action has its turn (null), or with the error that ended its start. */
  started(action: PendingSend): Promise<ApiErrorInfo | null> {
    return new Promise((resolve) => {
      const check = () => {
        const { action: current, error } = this.state
        if (current?.requestId !== action.requestId || (!current.turnId && !error)) return
        unsubscribe()
        resolve(current.turnId ? null : error)
      }
      const unsubscribe = this.subscribe(check)
      check()
    })
  }

  /** Repeats the failed action with the same request id. */
  retry(): void {
    const action = this.state.action
    if (!action || this.state.connection !== 'idle') return
    this.run(action)
  }

  /** Forgets a failed action (its request id is never sent again). */
  dismiss(): void {
    const action = this.state.action
    if (action) clearPending(this.options.storage, action.conversationId, action.requestId)
    this.set({ ...this.state, error: null, action: null })
  }

  /**
   * Drops the finished reply's overlay (e.g. before switching branches, where the finished turn
   * leaves the listed branch and must not be shown in place of it).
   */
  forget(): void {
    if (this.state.connection !== 'idle' || this.state.error) return
    this.set(IDLE)
  }

  /** Follows a turn that this tab did not start (another tab, a reload of a watcher). */
  attach(turnId: string): void {
    if (this.state.live?.turnId === turnId && this.state.connection !== 'idle') return
    if (this.state.action && this.state.connection !== 'idle') return
    this.halt()
    const generation = ++this.generation
    this.set({ action: null, live: emptyLiveTurn(turnId), connection: 'streaming', error: null })
    this.watch(generation, null)
  }

  async stop(): Promise<void> {
    const turnId = this.state.live?.turnId ?? this.state.action?.turnId
    if (!turnId) {
      // The send is still on its way (or being retried): the server may already run it, so it
      // is cancelled as soon as its turn is known.
      if (this.state.action && this.state.connection !== 'idle') this.stopWhenStarted = true
      return
    }
    try {
      await this.options.api.chat.cancel(turnId)
    } catch (error) {
      const info = errorInfo(error)
      this.set({ ...this.state, error: { ...info, message: `Could not stop: ${info.message}` } })
    }
  }

  /** Writes the latest snapshot now (before the page unloads). */
  flush(): void {
    if (this.snapshotTimer) {
      clearTimeout(this.snapshotTimer)
      this.snapshotTimer = null
    }
    this.persistSnapshot()
  }

  dispose(): void {
    this.flush()
    this.disposed = true
    this.halt()
    this.listeners.clear()
  }

  private run(pending: PendingSend): void {
    this.halt()
    this.stopWhenStarted = false
    const generation = ++this.generation
    const live = pending.turnId ? (pending.snapshot ?? emptyLiveTurn(pending.turnId)) : null
    this.set({ action: pending, live, connection: pending.turnId ? 'streaming' : 'starting', error: null })
    if (pending.turnId) {
      this.watch(generation, pending)
      return
    }
    void this.startTurn(generation, pending, 1)
  }

  private async startTurn(generation: number, pending: PendingSend, attempt: number): Promise<void> {
    let started: StartedTurn
    try {
      started = await this.callStart(pending)
    } catch (error) {
      if (generation !== this.generation) return
      const info = errorInfo(error)
      const maxAttempts = this.options.maxStartAttempts ?? 4
      if (info.network && attempt < maxAttempts) {
        this.set({ ...this.state, connection: 'reconnecting' })
        this.retryTimer = setTimeout(
          () => void this.startTurn(generation, pending, attempt + 1),
          this.backoff(attempt),
        )
        return
      }
      // A request the server refused was not stored: the same id may be retried later.
      this.set({ ...this.state, connection: 'idle', error: info })
      return
    }
    if (generation !== this.generation) return
    const withTurn: PendingSend = { ...pending, turnId: started.turn.id, snapshot: null }
    savePending(this.options.storage, withTurn)
    this.set({
      ...this.state,
      action: withTurn,
      live: emptyLiveTurn(started.turn.id),
      connection: 'streaming',
    })
    this.options.onTurnStarted?.(started.turn.id)
    this.watch(generation, withTurn)
    if (this.stopWhenStarted) {
      this.stopWhenStarted = false
      void this.stop()
    }
  }

  private callStart(pending: PendingSend): Promise<StartedTurn> {
    const { api } = this.options
    switch (pending.kind) {
      case 'send':
        return api.chat.send({
          requestId: pending.requestId,
          conversationId: pending.conversationId,
          input: pending.text,
        })
      case 'regenerate':
        return api.chat.regenerate({ requestId: pending.requestId, turnId: pending.targetTurnId })
      case 'edit':
        return api.chat.edit({
          requestId: pending.requestId,
          turnId: pending.targetTurnId,
          input: pending.text,
        })
    }
  }

  private watch(generation: number, pending: PendingSend | null): void {
    const live = this.state.live
    if (!live) return
    if (isFinished(live)) {
      this.settle(generation, live)
      return
    }
    const resumeFrom = lastEventId(live)
    this.unsubscribe = this.options.api.chat.watch(
      resumeFrom ? { turnId: live.turnId, lastEventId: resumeFrom } : { turnId: live.turnId },
      {
        onEvent: (event) => this.onEvent(generation, pending, event),
        onConnection: (state) => {
          if (generation !== this.generation) return
          if (state === 'open') {
            this.watchAttempts = 0
            if (this.state.connection === 'reconnecting') this.set({ ...this.state, connection: 'streaming' })
          } else if (this.state.live && this.state.live.lastSeq > 0) {
            this.set({ ...this.state, connection: 'reconnecting' })
          }
        },
        onError: (error) => {
          if (generation !== this.generation) return
          const info = errorInfo(error)
          if (!info.network) {
            // The turn is gone for us (deleted conversation, revoked key): nothing to resume.
            this.finishPending(pending)
            this.set({ ...this.state, connection: 'idle', error: info })
            return
          }
          this.rewatch(generation, pending)
        },
        onComplete: () => {
          if (generation !== this.generation) return
          const current = this.state.live
          if (current && isFinished(current)) return
          this.rewatch(generation, pending)
        },
      },
    )
  }

  private rewatch(generation: number, pending: PendingSend | null): void {
    this.unsubscribe?.()
    this.unsubscribe = null
    this.set({ ...this.state, connection: 'reconnecting' })
    this.watchAttempts += 1
    this.retryTimer = setTimeout(() => {
      if (generation === this.generation) this.watch(generation, pending)
    }, this.backoff(this.watchAttempts))
  }

  private onEvent(generation: number, pending: PendingSend | null, event: TurnEvent): void {
    if (generation !== this.generation || !this.state.live) return
    const live = applyEvent(this.state.live, event)
    if (live === this.state.live) return
    const connection = this.state.connection === 'reconnecting' ? 'streaming' : this.state.connection
    this.set({ ...this.state, live, connection })
    if (pending) this.scheduleSnapshot()
    if (isTerminalType(event.type)) this.settle(generation, live)
  }

  private settle(generation: number, live: LiveTurn): void {
    if (generation !== this.generation) return
    this.unsubscribe?.()
    this.unsubscribe = null
    this.finishPending(this.state.action)
    this.set({ ...this.state, live, connection: 'idle' })
    this.options.onSettled?.(live.turnId)
  }

  private finishPending(pending: PendingSend | null): void {
    if (this.snapshotTimer) clearTimeout(this.snapshotTimer)
    this.snapshotTimer = null
    if (pending) clearPending(this.options.storage, pending.conversationId, pending.requestId)
  }

  private scheduleSnapshot(): void {
    if (this.snapshotTimer) return
    this.snapshotTimer = setTimeout(() => {
      this.snapshotTimer = null
      this.persistSnapshot()
    }, this.options.snapshotIntervalMs ?? 150)
  }

  private persistSnapshot(): void {
    const { action, live, connection } = this.state
    if (!action?.turnId || !live || live.turnId !== action.turnId || connection === 'idle') return
    // Text and event id are stored together, so a resumed stream continues exactly after it.
    savePending(this.options.storage, { ...action, snapshot: live })
  }

  private backoff(attempt: number): number {
    if (this.options.backoffMs) return this.options.backoffMs(attempt)
    const base = Math.min(8000, 400 * 2 ** (attempt - 1))
    return base / 2 + Math.random() * (base / 2)
  }

  private halt(): void {
    this.generation += 1
    this.unsubscribe?.()
    this.unsubscribe = null
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.retryTimer = null
    this.watchAttempts = 0
  }

  private set(state: ControllerState): void {
    if (this.disposed) return
    this.state = state
    for (const listener of this.listeners) listener()
  }
}
