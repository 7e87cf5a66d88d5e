import type { EventItem, Turn, TurnEvent } from '@parley/core'
import { toWireOutputItem } from './items.ts'
import { wireResponse } from './response-object.ts'
import type {
  WireFunctionCallItem,
  WireFunctionCallOutputItem,
  WireOutputItem,
  WireOutputText,
  WireRefusal,
  WireStreamEvent,
} from './wire.ts'

/**
 * TurnEvents → Responses stream events.
 *
 * The mapping is a pure function of the turn's event log: feeding the same TurnEvents (from
 * seq 1) always yields the same Responses events with the same `sequence_number`s (from 0).
 * That is what makes `GET /v1/responses/{id}?stream=true&starting_after=N` exact: it replays
 * the log through a fresh mapper and drops every event numbered N or less.
 *
 * | TurnEvent | Responses events |
 * |---|---|
 * | `turn.started` | `response.created`, `response.in_progress` |
 * | `item.started` (message) | `response.output_item.added`, `response.content_part.added` |
 * | `text.delta` | `response.output_text.delta` (opening the message first if needed) |
 * | `tool.call` | `response.output_item.added` (function_call), `response.function_call_arguments.delta`, `response.function_call_arguments.done` |
 * | `tool.result` | `response.output_item.added` (function_call_output) |
 * | `item.completed` | message: `response.output_text.done`, `response.content_part.done`, `response.output_item.done`; others: `response.output_item.done` (announcing the item first if it was not yet) |
 * | `usage`, `item.started` (other types) | nothing (calls are announced by `tool.call`, which carries the name) |
 * | `turn.completed` | `response.completed`, or `response.incomplete` when the reply hit the token limit |
 * | `turn.failed`, `turn.interrupted` | `error`, then `response.failed` |
 * | `turn.cancelled` | `response.incomplete` with `status: "cancelled"` |
 *
 * Before a terminal event, items still open are closed from the stored output the terminal
 * event carries (status `incomplete` when the turn stopped in the middle of one), and stored
 * items never announced are announced whole, so a client that builds the response from item
 * events ends with the same output as the response object.
 */
export class ResponseEventMapper {
  private sequence = 0
  private started = false
  private readonly open = new Map<string, OpenItem>()
  private readonly announced = new Set<string>()

  map(event: TurnEvent): WireStreamEvent[] {
    const out: WireStreamEvent[] = []
    const emit = (body: DistributiveOmit<WireStreamEvent, 'sequence_number'>) => {
      out.push({ ...body, sequence_number: this.sequence++ } as WireStreamEvent)
    }
    switch (event.type) {
      case 'turn.started':
        this.start(event.turn, emit)
        break
      case 'item.started':
        if (event.itemType === 'message') this.openMessage(event.itemId, emit)
        break
      case 'text.delta': {
        const item = this.open.get(event.itemId) ?? this.openMessage(event.itemId, emit)
        if (item.kind !== 'message') break
        item.text += event.delta
        emit({
          type: 'response.output_text.delta',
          item_id: event.itemId,
          output_index: item.index,
          content_index: 0,
          delta: event.delta,
          logprobs: [],
        })
        break
      }
      case 'tool.call': {
        const call: WireFunctionCallItem = {
          id: event.itemId,
          type: 'function_call',
          call_id: event.callId,
          name: event.name,
          arguments: event.arguments,
          status: 'in_progress',
        }
        this.openCall(call, emit)
        break
      }
      case 'tool.result': {
        if (this.announced.has(event.itemId)) break
        const result: WireFunctionCallOutputItem = {
          id: event.itemId,
          type: 'function_call_output',
          call_id: event.callId,
          output: event.output,
          status: 'in_progress',
        }
        const index = this.announce(result, emit)
        this.open.set(event.itemId, { kind: 'other', index, item: result })
        break
      }
      case 'item.completed':
        this.complete(toWireOutputItem(event.item), emit)
        break
      case 'usage':
        break
      case 'turn.completed':
      case 'turn.failed':
      case 'turn.cancelled':
      case 'turn.interrupted':
        // A pruned log is only its (synthesized) terminal event: the stream still opens properly.
        this.start(event.turn, emit)
        this.finish(event.turn, event.output, emit)
        break
    }
    return out
  }

  private start(turn: Turn, emit: Emit) {
    if (this.started) return
    this.started = true
    const response = wireResponse(turn, [], { status: 'in_progress' })
    emit({ type: 'response.created', response })
    emit({ type: 'response.in_progress', response })
  }

  private openMessage(itemId: string, emit: Emit): OpenMessage {
    const index = this.announce(
      { id: itemId, type: 'message', role: 'assistant', status: 'in_progress', content: [] },
      emit,
    )
    const message: OpenMessage = { kind: 'message', index, text: '' }
    this.open.set(itemId, message)
    emit({
      type: 'response.content_part.added',
      item_id: itemId,
      output_index: index,
      content_index: 0,
      part: { type: 'output_text', text: '', annotations: [], logprobs: [] },
    })
    return message
  }

  private openCall(call: WireFunctionCallItem, emit: Emit) {
    if (this.announced.has(call.id)) return
    const index = this.announce({ ...call, arguments: '' }, emit)
    this.open.set(call.id, { kind: 'other', index, item: call })
    emit({
      type: 'response.function_call_arguments.delta',
      item_id: call.id,
      output_index: index,
      delta: call.arguments,
    })
    emit({
      type: 'response.function_call_arguments.done',
      item_id: call.id,
      output_index: index,
      name: call.name,
      arguments: call.arguments,
    })
  }

  private announce(item: WireOutputItem, emit: Emit): number {
    // Output indexes follow the order in which items are announced.
    const index = this.announced.size
    this.announced.add(item.id)
    emit({ type: 'response.output_item.added', output_index: index, item })
    return index
  }

  /** Closes an item with its final (stored) form, announcing it first if it never was. */
  private complete(item: WireOutputItem, emit: Emit) {
    if (!this.announced.has(item.id)) {
      if (item.type === 'message') this.openMessage(item.id, emit)
      else if (item.type === 'function_call') this.openCall(item, emit)
      else
        this.open.set(item.id, {
          kind: 'other',
          index: this.announce({ ...item, status: 'in_progress' }, emit),
          item,
        })
    }
    const open = this.open.get(item.id)
    if (!open) return
    this.open.delete(item.id)
    if (open.kind === 'message' && item.type === 'message') {
      const parts: (WireOutputText | WireRefusal)[] =
        item.content.length > 0
          ? item.content
          : [{ type: 'output_text', text: '', annotations: [], logprobs: [] }]
      parts.forEach((part, contentIndex) => {
        if (contentIndex > 0) {
          emit({
            type: 'response.content_part.added',
            item_id: item.id,
            output_index: open.index,
            content_index: contentIndex,
            part: part.type === 'output_text' ? { ...part, text: '' } : part,
          })
        }
        if (part.type === 'output_text') {
          emit({
            type: 'response.output_text.done',
            item_id: item.id,
            output_index: open.index,
            content_index: contentIndex,
            text: part.text,
            logprobs: [],
          })
        }
        emit({
          type: 'response.content_part.done',
          item_id: item.id,
          output_index: open.index,
          content_index: contentIndex,
          part,
        })
      })
    }
    emit({ type: 'response.output_item.done', output_index: open.index, item })
  }

  private finish(turn: Turn, output: EventItem[], emit: Emit) {
    const final = output.map(toWireOutputItem)
    const stored = new Map(final.map((item) => [item.id, item]))
    // Items left open: close them with their stored form, or as cut off where nothing was stored.
    for (const [id, open] of [...this.open]) {
      const final = stored.get(id) ?? this.cutOff(id, open)
      this.complete(final, emit)
    }
    for (const item of stored.values()) {
      if (!this.announced.has(item.id)) this.complete(item, emit)
    }
    const response = wireResponse(turn, final)
    switch (turn.status) {
      case 'cancelled':
        emit({ type: 'response.incomplete', response })
        break
      case 'failed':
      case 'interrupted':
        emit({
          type: 'error',
          code: response.error?.code ?? 'server_error',
          message: response.error?.message ?? 'The response failed',
          param: null,
        })
        emit({ type: 'response.failed', response })
        break
      default:
        emit({
          type: response.status === 'incomplete' ? 'response.incomplete' : 'response.completed',
          response,
        })
    }
  }

  private cutOff(id: string, open: OpenItem): WireOutputItem {
    if (open.kind === 'message') {
      return {
        id,
        type: 'message',
        role: 'assistant',
        status: 'incomplete',
        content: [{ type: 'output_text', text: open.text, annotations: [], logprobs: [] }],
      }
    }
    return { ...open.item, status: 'incomplete' }
  }

  /**
   * An `error` event for a stream that broke on Parley's side (not a turn failure): numbered
   * after everything mapped so far. The turn itself is unaffected; a client resumes with
   * `starting_after`.
   */
  errorEvent(code: string, message: string): WireStreamEvent {
    return { type: 'error', code, message, param: null, sequence_number: this.sequence++ }
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never
type Emit = (body: DistributiveOmit<WireStreamEvent, 'sequence_number'>) => void

interface OpenMessage {
  kind: 'message'
  index: number
  text: string
}
interface OpenOther {
  kind: 'other'
  index: number
  item: WireOutputItem
}
type OpenItem = OpenMessage | OpenOther
