import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineTool } from '../src/ports/tool.ts'
import { builtinTools, calculatorTool, clockTool } from '../src/tools/builtin.ts'
import { type ToolCallContext, ToolRegistry } from '../src/tools/registry.ts'

function context(signal = new AbortController().signal): ToolCallContext {
  return { turnId: 'resp_test', callId: 'call_1', userId: 'user_1', conversationId: 'conv_1', signal }
}

const add = defineTool({
  name: 'add',
  description: 'Adds two numbers',
  input: z.object({ a: z.number(), b: z.number().optional() }),
  execute: ({ a, b = 0 }) => ({ sum: a + b }),
})

describe('ToolRegistry', () => {
  it('lists tools with JSON Schema parameters', () => {
    const registry = new ToolRegistry().register(add)
    expect(registry.list()).toEqual([
      {
        name: 'add',
        description: 'Adds two numbers',
        parameters: {
          type: 'object',
          properties: { a: { type: 'number' }, b: { type: 'number' } },
          required: ['a'],
        },
      },
    ])
    expect(registry.get('add')?.name).toBe('add')
    expect(registry.providerTools()).toEqual([expect.objectContaining({ name: 'add', strict: false })])
    expect(registry.providerTools(['other'])).toEqual([])
  })

  it('refuses duplicate and malformed names', () => {
    const registry = new ToolRegistry().register(add)
    expect(() => registry.register(add)).toThrow('already registered')
    expect(() => registry.register({ ...add, name: 'bad name' })).toThrow('must be')
  })

  it('runs a call and stringifies its result', async () => {
    const outcome = await new ToolRegistry().register(add).execute('add', '{"a":2,"b":3}', context())
    expect(outcome).toMatchObject({ output: '{"sum":5}', isError: false })
    expect(outcome.durationMs).toBeGreaterThanOrEqual(0)
  })

  it('turns bad calls into error outputs for the model', async () => {
    const registry = new ToolRegistry().register(add)
    expect(await registry.execute('add', '{"a":', context())).toMatchObject({
      isError: true,
      output: expect.stringContaining('not valid JSON'),
    })
    expect(await registry.execute('add', '{"a":"two"}', context())).toMatchObject({
      isError: true,
      output: expect.stringMatching(/^Invalid arguments: a: /),
    })
    expect(await registry.execute('nope', '{}', context())).toEqual(
      expect.objectContaining({ isError: true, output: "Unknown tool 'nope'" }),
    )
    const throwing = defineTool({
      name: 'boom',
      description: 'fails',
      input: z.object({}),
      execute: () => {
        throw new Error('disk on fire')
      },
    })
    expect(await new ToolRegistry().register(throwing).execute('boom', '', context())).toMatchObject({
      isError: true,
      output: 'disk on fire',
    })
  })

  it('passes the correlation id and times out slow tools', async () => {
    let seen: { correlationId: string; aborted: () => boolean } | undefined
    const slow = defineTool({
      name: 'slow',
      description: 'never ends',
      input: z.object({}),
      timeoutMs: 30,
      execute: (_args, ctx) => {
        seen = { correlationId: ctx.correlationId, aborted: () => ctx.signal.aborted }
        return new Promise(() => {})
      },
    })
    const outcome = await new ToolRegistry().register(slow).execute('slow', '{}', context())
    expect(outcome).toMatchObject({ isError: true, output: 'Tool timed out after 30 ms' })
    expect(seen?.correlationId).toBe('resp_test:call_1')
    expect(seen?.aborted()).toBe(true)
  })

  it('retries only idempotent tools, at most twice more', async () => {
    const attempts = { flaky: 0, once: 0 }
    const flaky = defineTool({
      name: 'flaky',
      description: 'fails twice',
      input: z.object({}),
      idempotent: true,
      execute: () => {
        attempts.flaky++
        if (attempts.flaky < 3) throw new Error('transient')
        return 'ok'
      },
    })
    const once = defineTool({
      name: 'once',
      description: 'fails',
      input: z.object({}),
      execute: () => {
        attempts.once++
        throw new Error('no')
      },
    })
    const registry = new ToolRegistry().register(flaky).register(once)
    expect(await registry.execute('flaky', '{}', context())).toMatchObject({ output: 'ok', isError: false })
    expect(await registry.execute('once', '{}', context())).toMatchObject({ output: 'no', isError: true })
    expect(attempts).toEqual({ flaky: 3, once: 1 })
  })

  it("propagates the turn's abort instead of reporting a tool error", async () => {
    const controller = new AbortController()
    const hang = defineTool({
      name: 'hang',
      description: '',
      input: z.object({}),
      execute: () => new Promise(() => {}),
    })
    const running = new ToolRegistry().register(hang).execute('hang', '{}', context(controller.signal))
    controller.abort(new Error('cancelled'))
    await expect(running).rejects.toThrow('cancelled')
  })

  it('makes outputs storable: NUL and lone surrogates replaced', async () => {
    const dirty = defineTool({
      name: 'dirty',
      description: '',
      input: z.object({}),
      execute: () => 'a\u0000b\uD800c',
    })
    const outcome = await new ToolRegistry().register(dirty).execute('dirty', '{}', context())
    expect(outcome.output).toBe('a\uFFFDb\uFFFDc')
  })
})

describe('built-in tools', () => {
  it('has clock and calculator', () => {
    expect(builtinTools.map((tool) => tool.name)).toEqual(['clock', 'calculator'])
  })

  it('calculator evaluates and reports bad expressions as errors', async () => {
    const registry = new ToolRegistry().register(calculatorTool)
    expect(await registry.execute('calculator', '{"expression":"(2+3)*4.5"}', context())).toMatchObject({
      output: '{"expression":"(2+3)*4.5","result":22.5}',
      isError: false,
    })
    expect(await registry.execute('calculator', '{"expression":"2+"}', context())).toMatchObject({
      isError: true,
    })
  })

  it('clock tells the time in UTC and in a zone', async () => {
    const at = new Date('2026-01-15T12:00:00Z')
    const registry = new ToolRegistry().register(clockTool({ now: () => at }))
    const outcome = await registry.execute('clock', '{"timeZone":"Asia/Tokyo"}', context())
    expect(JSON.parse(outcome.output)).toEqual({
      iso: '2026-01-15T12:00:00.000Z',
      timeZone: 'Asia/Tokyo',
      local: expect.stringContaining('21:00:00'),
    })
    expect(await registry.execute('clock', '{"timeZone":"Mars/Olympus"}', context())).toMatchObject({
      isError: true,
      output: "Unknown time zone 'Mars/Olympus'",
    })
  })
})
