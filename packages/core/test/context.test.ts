import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { assistantText, type ItemBody, userText } from '../src/contracts/items.ts'
import { fitContext, MISSING_OUTPUT, outputReserve, sanitizeContext } from '../src/orchestrator/context.ts'

const call = (id: string): ItemBody => ({
  type: 'function_call',
  call_id: id,
  name: 'calculator',
  arguments: '{}',
  status: 'completed',
})
const output = (id: string): ItemBody => ({
  type: 'function_call_output',
  call_id: id,
  output: 'ok',
  status: 'completed',
})
const system = (text: string): ItemBody => ({
  type: 'message',
  role: 'system',
  status: 'completed',
  content: [{ type: 'input_text', text }],
})

describe('sanitizeContext', () => {
  it('keeps a well-formed history as is', () => {
    const items = [userText('hi'), call('a'), call('b'), output('a'), output('b'), assistantText('done')]
    expect(sanitizeContext(items)).toEqual(items)
  })

  it('synthesizes an error output for a call whose turn never answered it, after its block', () => {
    const items = [userText('hi'), call('a'), call('b'), output('b'), userText('next')]
    const result = sanitizeContext(items)
    expect(result.map((item) => item.type)).toEqual([
      'message',
      'function_call',
      'function_call',
      'function_call_output',
      'function_call_output',
      'message',
    ])
    expect(result[4]).toMatchObject({ call_id: 'a', output: MISSING_OUTPUT, is_error: true })
  })

  it('answers a dangling call at the very end too', () => {
    const result = sanitizeContext([userText('hi'), call('a')])
    expect(result.at(-1)).toMatchObject({ type: 'function_call_output', call_id: 'a', is_error: true })
  })

  it('drops orphan outputs, outputs before their call, and duplicates', () => {
    const items = [output('x'), userText('hi'), call('a'), output('a'), output('a'), call('a'), output('z')]
    expect(sanitizeContext(items)).toEqual([userText('hi'), call('a'), output('a')])
  })

  it('pairs a client tool output sent in the next turn with its call', () => {
    const items = [userText('weather?'), call('c1'), output('c1'), assistantText('sunny')]
    expect(sanitizeContext(items)).toEqual(items)
  })

  it('always yields exactly one output after every call (property)', () => {
    const ids = fc.constantFrom('a', 'b', 'c', 'd')
    const item = fc.oneof(
      ids.map(call),
      ids.map(output),
      fc.constant(userText('u')),
      fc.constant(assistantText('x')),
    )
    fc.assert(
      fc.property(fc.array(item, { maxLength: 30 }), (items) => {
        const result = sanitizeContext(items)
        const calls = new Map<string, number>()
        result.forEach((entry, index) => {
          if (entry.type === 'function_call') {
            expect(calls.has(entry.call_id)).toBe(false)
            calls.set(entry.call_id, index)
          }
        })
        const outputs = result.filter((entry) => entry.type === 'function_call_output')
        expect(outputs.length).toBe(calls.size)
        result.forEach((entry, index) => {
          if (entry.type !== 'function_call_output') return
          expect(calls.get(entry.call_id)).toBeLessThan(index)
        })
        expect(sanitizeContext(result)).toEqual(result)
      }),
    )
  })
})

describe('fitContext', () => {
  const entry = (body: ItemBody, turnId: string, tokenCount: number) => ({ body, turnId, tokenCount })

  it('changes nothing within the budget', () => {
    const entries = [
      entry(userText('a'), 't1', 10),
      entry(assistantText('b'), 't1', 10),
      entry(userText('c'), 't2', 5),
    ]
    expect(fitContext(entries, 't2', 25)).toEqual({
      items: entries.map((e) => e.body),
      truncated: false,
      tokens: 25,
    })
  })

  it('drops whole turns oldest first, keeping system messages and the current turn', () => {
    const entries = [
      entry(system('rules'), 't1', 5),
      entry(userText('old q'), 't1', 40),
      entry(assistantText('old a'), 't1', 40),
      entry(userText('mid q'), 't2', 20),
      entry(assistantText('mid a'), 't2', 20),
      entry(userText('now'), 't3', 10),
    ]
    const result = fitContext(entries, 't3', 60)
    expect(result.truncated).toBe(true)
    expect(result.items).toEqual([
      system('rules'),
      userText('mid q'),
      assistantText('mid a'),
      userText('now'),
    ])
    expect(result.tokens).toBe(55)
  })

  it('returns the current turn even when it alone is over budget', () => {
    const entries = [entry(userText('old'), 't1', 10), entry(userText('huge'), 't2', 500)]
    const result = fitContext(entries, 't2', 100)
    expect(result.items).toEqual([userText('huge')])
    expect(result.truncated).toBe(true)
  })

  it('reserves room for the reply', () => {
    expect(outputReserve(128_000, null)).toBe(4096)
    expect(outputReserve(8000, null)).toBe(2000)
    expect(outputReserve(8000, 300)).toBe(300)
  })
})
