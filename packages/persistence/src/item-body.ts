import type { ItemBody, Role } from '@parley/core'

/**
 * How an item's body is stored (`items.body`, text). Most items of a conversation are a message
 * of one plain text part: those are stored as one character naming the role and the part's type,
 * followed by the text, and are rebuilt without a JSON parse (parsing is what a long context read
 * spent most of its time on: 10 ms for 10,000 bodies, against 0.5 ms to split and rebuild them).
 * Every other body is stored as its JSON text, which starts with `{`; rows written before this
 * form existed are JSON text too, and read the same way.
 *
 * Neither form contains U+0001: JSON text escapes it, and a text that contains it is stored as
 * JSON. So a context read joins bodies with it and cuts them apart with one `split`.
 */
export const BODY_SEPARATOR = '\u0001'

type TextPartType = 'input_text' | 'output_text'

/** The short form's first character: the message's role and the type of its one text part. */
const FORMS: Record<string, { role: Role; part: TextPartType }> = {
  u: { role: 'user', part: 'input_text' },
  s: { role: 'system', part: 'input_text' },
  d: { role: 'developer', part: 'input_text' },
  a: { role: 'assistant', part: 'input_text' },
  U: { role: 'user', part: 'output_text' },
  S: { role: 'system', part: 'output_text' },
  D: { role: 'developer', part: 'output_text' },
  A: { role: 'assistant', part: 'output_text' },
}

const CODES = new Map(Object.entries(FORMS).map(([code, { role, part }]) => [`${role}:${part}`, code]))

/** The short form of a body, when it rebuilds that body exactly; else null. */
function shortForm(body: ItemBody): string | null {
  if (body.type !== 'message' || body.status !== 'completed' || body.content.length !== 1) return null
  if (Object.keys(body).length !== 4) return null
  const part = body.content[0]
  if (part?.type === 'input_text') {
    if (Object.keys(part).length !== 2) return null
  } else if (part?.type === 'output_text') {
    if (Object.keys(part).length !== 3 || part.annotations.length !== 0) return null
  } else {
    return null
  }
  if (part.text.includes(BODY_SEPARATOR)) return null
  return `${CODES.get(`${body.role}:${part.type}`)}${part.text}`
}

/** The stored text of a body. */
export function encodeBody(body: ItemBody): string {
  return shortForm(body) ?? JSON.stringify(body)
}

/** The body of a stored text (either form). */
export function decodeBody(stored: string): ItemBody {
  if (stored.charCodeAt(0) === 0x7b) return JSON.parse(stored) as ItemBody
  const form = FORMS[stored.charAt(0)]
  if (!form) throw new Error('unreadable stored item body')
  const text = stored.slice(1)
  return {
    type: 'message',
    role: form.role,
    content: [
      form.part === 'input_text'
        ? { type: 'input_text', text }
        : { type: 'output_text', text, annotations: [] },
    ],
    status: 'completed',
  }
}
