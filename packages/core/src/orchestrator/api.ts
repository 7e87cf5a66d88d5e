import type { TurnEvent } from '../contracts/events.ts'
import type { EditInput, RegenerateInput, SendInput, Turn } from '../contracts/turn.ts'
import type { TurnWithItems } from '../ports/stores.ts'
import type { AttachOptions } from './attach.ts'

/**
 * The turn service: what transports (tRPC, `/v1`) call. Implemented by `Orchestrator`.
 * All methods take the authenticated user's id; another user's ids answer like unknown ids.
 * Errors are `ParleyError`s (NotFoundError, ConflictError, ValidationError, …).
 */
export interface TurnService {
  /**
   * Starts a turn (claiming `requestId`) and returns at once; the turn runs in the background
   * whether or not anyone listens. A duplicate requestId returns the same turn with
   * `replayed: true` (in flight or finished) and causes no provider call.
   * Throws ConflictError `idempotency_key_reused` / `conversation_busy`, NotFoundError.
   */
  send(userId: string, input: SendInput): Promise<StartedTurn>
  /**
   * The turn that `input` started, for a client resuming its stream after `turnId`'s events: as
   * `send` would answer a duplicate, without claiming anything (so also while the server drains).
   * NotFoundError unless `turnId` was started by this request id; ConflictError
   * `idempotency_key_reused` when the request differs from the one that started it.
   */
  sentTurn(userId: string, input: SendInput, turnId: string): Promise<Turn>
  /** A new sibling of `turnId` with the same input (a new branch; becomes the head). */
  regenerate(userId: string, input: RegenerateInput): Promise<StartedTurn>
  /** A new sibling of `turnId` with new input (a new branch; becomes the head). */
  edit(userId: string, input: EditInput): Promise<StartedTurn>
  /**
   * The events of a turn with seq > afterSeq: the stored backlog, then live events, with no
   * gap and no duplicate, ending after the terminal event. Ending the iteration (or aborting
   * `signal`) detaches the subscriber; it never stops the turn. With `endOnly`, only the
   * terminal event is delivered.
   */
  attach(
    userId: string,
    turnId: string,
    afterSeq: number,
    signal?: AbortSignal,
    options?: AttachOptions,
  ): AsyncIterable<TurnEvent>
  /** Stops the provider call and stores what was produced so far (status `cancelled`). */
  cancel(userId: string, turnId: string): Promise<Turn>
  get(userId: string, turnId: string): Promise<TurnWithItems>
}

export interface StartedTurn {
  turn: Turn
  /** True when this requestId had been claimed before: nothing new was dispatched. */
  replayed: boolean
}
