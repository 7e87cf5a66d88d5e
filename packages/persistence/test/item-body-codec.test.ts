import { type ItemBody, type MessageItemBody, Role } from '@parley/core'
import { describe, expect, it } from 'vitest'
import { BODY_SEPARATOR, decodeBody, encodeBody } from '../src/item-body.ts'

const message = (role: Role, part: 'input_text' | 'output_text', text: string): MessageItemBody => ({
  type: 'message',
  role,
  content: [
    part === 'input_text' ? { type: 'input_text', text } : { type: 'output_text', text, annotations: [] },
  ],
  status: 'completed',
})

describe('stored item bodies', () => {
  it('stores a plain text message of any role and part type in the short form, and rebuilds it exactly', () => {
    const codes = new Set<string>()
    for (const role of Role.options) {
      for (const part of ['input_text', 'output_text'] as const) {
        for (const text of ['', 'hi', '{"type":"message"}', 'é 中文 🚀 \n "q" \\', 'u']) {
          const body = message(role, part, text)
          const stored = encodeBody(body)
          expect(stored.length).toBe(text.length + 1)
          expect(stored.slice(1)).toBe(text)
          expect(decodeBody(stored)).toEqual(body)
          // Rebuilt in the schema's key order, so JSON of it is what JSON of the parsed body is.
          expect(JSON.stringify(decodeBody(stored))).toBe(JSON.stringify(body))
          codes.add(stored.charAt(0))
        }
      }
    }
    expect(codes.size).toBe(8)
    expect(codes.has('{')).toBe(false)
  })

  it('stores every other body as JSON text, and reads it back', () => {
    const plain = message('user', 'input_text', 'x')
    const others: ItemBody[] = [
      message('user', 'input_text', `has the separator ${BODY_SEPARATOR} inside`),
      { ...plain, status: 'incomplete' },
      { ...plain, content: [...plain.content, { type: 'input_text', text: 'y' }] },
      {
        ...plain,
        content: [{ type: 'output_text', text: 'cited', annotations: [{ type: 'url_citation' }] }],
      },
      { ...plain, content: [{ type: 'refusal', refusal: 'no' }] },
      { ...plain, content: [{ type: 'input_image', image_url: 'data:,', detail: 'auto' }] },
      { ...plain, id: 'msg_1' } as MessageItemBody,
      { type: 'function_call', call_id: 'c', name: 'clock', arguments: '{}', status: 'completed' },
      { type: 'reasoning', summary: [], encrypted_content: null },
    ]
    for (const body of others) {
      const stored = encodeBody(body)
      expect(stored).toBe(JSON.stringify(body))
      expect(stored.includes(BODY_SEPARATOR)).toBe(false)
      expect(decodeBody(stored)).toEqual(body)
    }
  })

  it('reads rows written before the short form existed (JSON text of a plain message)', () => {
    const body = message('assistant', 'output_text', 'old')
    expect(decodeBody(JSON.stringify(body))).toEqual(body)
  })

  it('refuses a stored text in neither form', () => {
    expect(() => decodeBody('?what')).toThrow(/unreadable/)
    expect(() => decodeBody('')).toThrow(/unreadable/)
  })
})
