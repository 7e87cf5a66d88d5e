import {
  type ContentPart,
  InputItems as CoreInputItems,
  type EventItem,
  type Item,
  type ItemBody as ItemBodyType,
  toFieldIssues,
} from '@parley/core'
import { validationError } from './errors.ts'
import type { InputItem, WireContentPartInput } from './schemas.ts'
import type {
  WireAnnotation,
  WireInputImage,
  WireInputText,
  WireItem,
  WireOutputItem,
  WireOutputMessageItem,
  WireOutputText,
  WireRefusal,
} from './wire.ts'

/** Request items → core item bodies, validated by the core schema (errors name `<param>.N.…`). */
export function toCoreItems(items: InputItem[], param: string): ItemBodyType[] {
  const bodies = items.map(toCoreItem)
  const result = CoreInputItems.safeParse(bodies)
  if (!result.success) throw validationError(toFieldIssues(result.error), param)
  return result.data
}

/** A string input is one user message. */
export function textInput(text: string, param: string): ItemBodyType[] {
  const result = CoreInputItems.safeParse([
    { type: 'message', role: 'user', content: [{ type: 'input_text', text }] },
  ])
  if (!result.success) {
    // The one item's one part is the string itself: name the param, not a path inside it.
    const issues = toFieldIssues(result.error).map((issue) => ({ ...issue, path: '' }))
    throw validationError(issues, param)
  }
  return result.data
}

function toCoreItem(item: InputItem): unknown {
  switch (item.type) {
    case 'message': {
      const assistant = item.role === 'assistant'
      const content =
        typeof item.content === 'string'
          ? [assistant ? outputText(item.content) : { type: 'input_text', text: item.content }]
          : item.content.map((part) => toCorePart(part, assistant))
      return { type: 'message', role: item.role, content, status: item.status ?? 'completed' }
    }
    case 'function_call':
      return {
        type: 'function_call',
        call_id: item.call_id,
        name: item.name,
        arguments: item.arguments,
        status: item.status ?? 'completed',
      }
    case 'function_call_output':
      return {
        type: 'function_call_output',
        call_id: item.call_id,
        output: typeof item.output === 'string' ? item.output : item.output.map((part) => part.text).join(''),
        status: item.status ?? 'completed',
      }
    case 'reasoning':
      return {
        type: 'reasoning',
        summary: item.summary ?? [],
        encrypted_content: item.encrypted_content ?? null,
      }
  }
}

function outputText(text: string) {
  return { type: 'output_text', text, annotations: [] }
}

// An assistant's text is output_text and anyone else's input_text, whichever the client wrote:
// that is how the SDK types them, and how every provider expects them back.
function toCorePart(part: WireContentPartInput, assistant: boolean): unknown {
  switch (part.type) {
    case 'input_text':
    case 'output_text':
      return assistant ? outputText(part.text) : { type: 'input_text', text: part.text }
    case 'refusal':
      return part
    case 'input_image':
      return { type: 'input_image', image_url: part.image_url, detail: part.detail ?? 'auto' }
  }
}

/** A stored (or streamed) item → its `/v1` wire form. */
export function toWireItem(item: Item | EventItem): WireItem {
  return wireBody(item.id, item)
}

/** Output items are the model's: a message among them is the assistant's. */
export function toWireOutputItem(item: Item | EventItem): WireOutputItem {
  const wire = toWireItem(item)
  if (wire.type !== 'message' || wire.role === 'assistant') return wire
  return asAssistant(wire.id, wire.status, wire.content)
}

function wireBody(id: string, body: ItemBodyType): WireItem {
  switch (body.type) {
    case 'message':
      if (body.role === 'assistant') return asAssistant(id, body.status, body.content.map(wirePart))
      return {
        id,
        type: 'message',
        role: body.role,
        status: body.status,
        content: body.content.map(wirePart).map(asInputPart),
      }
    case 'function_call':
      return {
        id,
        type: 'function_call',
        call_id: body.call_id,
        name: body.name,
        arguments: body.arguments,
        status: body.status,
      }
    case 'function_call_output':
      return {
        id,
        type: 'function_call_output',
        call_id: body.call_id,
        output: body.output,
        status: body.status,
      }
    case 'reasoning':
      return {
        id,
        type: 'reasoning',
        summary: body.summary,
        encrypted_content: body.encrypted_content,
        status: 'completed',
      }
  }
}

type AnyWirePart = WireInputText | WireOutputText | WireRefusal | WireInputImage

function wirePart(part: ContentPart): AnyWirePart {
  switch (part.type) {
    case 'input_text':
      return { type: 'input_text', text: part.text }
    case 'output_text':
      return {
        type: 'output_text',
        text: part.text,
        annotations: part.annotations as WireAnnotation[],
        logprobs: [],
      }
    case 'refusal':
      return { type: 'refusal', refusal: part.refusal }
    case 'input_image':
      return { type: 'input_image', image_url: part.image_url, detail: part.detail, file_id: null }
  }
}

function asInputPart(part: AnyWirePart): WireInputText | WireInputImage {
  if (part.type === 'input_text' || part.type === 'input_image') return part
  if (part.type === 'output_text') return { type: 'input_text', text: part.text }
  return { type: 'input_text', text: part.refusal }
}

function asAssistant(
  id: string,
  status: WireOutputMessageItem['status'],
  parts: AnyWirePart[],
): WireOutputMessageItem {
  const content = parts.map((part): WireOutputText | WireRefusal => {
    if (part.type === 'output_text' || part.type === 'refusal') return part
    if (part.type === 'input_text')
      return { type: 'output_text', text: part.text, annotations: [], logprobs: [] }
    return { type: 'output_text', text: '', annotations: [], logprobs: [] }
  })
  return { id, type: 'message', role: 'assistant', status, content }
}
