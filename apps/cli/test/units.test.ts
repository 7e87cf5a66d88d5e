import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseArgs } from '../src/args.ts'
import { configFilePath, resolveConfig } from '../src/config.ts'
import { UsageError } from '../src/errors.ts'
import { MarkdownRenderer, renderMarkdown } from '../src/markdown.ts'
import { TurnPrinter } from '../src/printer.ts'
import { createStyle } from '../src/style.ts'
import { tempDir } from './harness.ts'

const color = createStyle(true)
const plain = createStyle(false)

describe('markdown for the terminal', () => {
  it('renders bold, italic, inline code, headings, lists, quotes and rules', () => {
    expect(renderMarkdown('a **bold** and *it* and `co**de**`', color)).toBe(
      'a \x1b[1mbold\x1b[22m and \x1b[3mit\x1b[23m and \x1b[36mco**de**\x1b[39m',
    )
    expect(renderMarkdown('## Title', color)).toBe('\x1b[1m\x1b[35mTitle\x1b[39m\x1b[22m')
    expect(renderMarkdown('- one\n2. two', color)).toBe('\x1b[33m•\x1b[39m one\n\x1b[33m2.\x1b[39m two')
    expect(renderMarkdown('> quoted', color)).toBe('\x1b[2m│\x1b[22m \x1b[3mquoted\x1b[23m')
    expect(renderMarkdown('---', color)).toBe(`\x1b[2m${'─'.repeat(40)}\x1b[22m`)
    expect(renderMarkdown('snake_case_name stays', color)).toBe('snake_case_name stays')
  })

  it('renders fenced code blocks verbatim, markdown inside them untouched', () => {
    const out = renderMarkdown('```ts\nconst x = **y**\n```\nafter **b**', color)
    expect(out.split('\n')).toEqual([
      '\x1b[2m┌─ ts\x1b[22m',
      '\x1b[2m│\x1b[22m \x1b[36mconst x = **y**\x1b[39m',
      '\x1b[2m└─\x1b[22m',
      'after \x1b[1mb\x1b[22m',
    ])
  })

  it('leaves text untouched without colors', () => {
    const text = '# T\n**b** `c`\n```\nx\n```'
    expect(renderMarkdown(text, plain)).toBe(text)
    const renderer = new MarkdownRenderer(plain)
    expect(renderer.line('- item')).toBe('- item')
  })
})

describe('TurnPrinter', () => {
  function capture() {
    let text = ''
    return { sink: { write: (chunk: string) => (text += chunk), columns: 80 }, read: () => text }
  }
  const base = { turnId: 'resp_aaaaaaaa', id: 'resp_aaaaaaaa:1', seq: 1 }

  it('streams text as it comes and shows tool calls as steps', () => {
    const out = capture()
    const printer = new TurnPrinter(out.sink, out.sink, plain)
    printer.event({ ...base, type: 'text.delta', itemId: 'i', delta: 'Let me ' })
    printer.event({ ...base, type: 'text.delta', itemId: 'i', delta: 'compute.' })
    printer.event({
      ...base,
      type: 'tool.call',
      itemId: 'c',
      callId: 'call_1',
      name: 'calculator',
      arguments: '{"expression":"2+3"}',
      executor: 'server',
    })
    printer.event({
      ...base,
      type: 'tool.result',
      itemId: 'r',
      callId: 'call_1',
      name: 'calculator',
      output: '5',
      isError: false,
      durationMs: 4,
    })
    printer.event({ ...base, type: 'text.delta', itemId: 'j', delta: 'It is 5.' })
    printer.end()
    expect(out.read()).toBe(
      'Let me compute.\n⚙ calculator({"expression":"2+3"})\n✓ calculator → 5 (4 ms)\nIt is 5.\n',
    )
    expect(printer.text).toBe('Let me compute.It is 5.')
  })

  it('redraws a completed line rendered on a terminal', () => {
    const out = capture()
    const printer = new TurnPrinter(out.sink, out.sink, color)
    printer.append('a **b')
    printer.append('** c\nnext')
    printer.end()
    expect(out.read()).toBe('a **b** c\r\x1b[Ja \x1b[1mb\x1b[22m c\nnext\n')
  })
})

describe('parseArgs', () => {
  const spec = { conversation: 'string', limit: 'string' } as const

  it('reads flags in both spellings, booleans, - and --', () => {
    expect(
      parseArgs(['hello', '--conversation', 'c1', '--json', '--limit=3', '-', '--', '--not-a-flag'], spec),
    ).toEqual({
      positionals: ['hello', '-', '--not-a-flag'],
      flags: { conversation: 'c1', json: true, limit: '3' },
    })
  })

  it('refuses unknown flags and missing values', () => {
    expect(() => parseArgs(['--nope'], spec)).toThrow(UsageError)
    expect(() => parseArgs(['--conversation'], spec)).toThrow(/needs a value/)
    expect(() => parseArgs(['--conversation', '--json'], spec)).toThrow(/needs a value/)
    expect(() => parseArgs(['--json=yes'], spec)).toThrow(/takes no value/)
  })
})

describe('configuration', () => {
  const home = tempDir('config')
  afterAll(() => home.remove())
  const file = configFilePath({ XDG_CONFIG_HOME: home.path })
  mkdirSync(join(home.path, 'parley'), { recursive: true })

  it('prefers flags over the environment over the config file', () => {
    writeFileSync(file, JSON.stringify({ url: 'http://file:1', apiKey: 'file-key', transport: 'sse' }))
    const env = { XDG_CONFIG_HOME: home.path }
    expect(resolveConfig(parseArgs([], {}), env)).toMatchObject({
      url: 'http://file:1',
      apiKey: 'file-key',
      transport: 'sse',
    })
    const withEnv = { ...env, PARLEY_URL: 'http://env:2/', PARLEY_API_KEY: 'env-key' }
    expect(resolveConfig(parseArgs([], {}), withEnv)).toMatchObject({
      url: 'http://env:2',
      apiKey: 'env-key',
    })
    const flags = parseArgs(['--url', 'http://flag:3', '--api-key', 'flag-key', '--transport', 'ws'], {})
    expect(resolveConfig(flags, withEnv)).toMatchObject({
      url: 'http://flag:3',
      apiKey: 'flag-key',
      transport: 'ws',
    })
  })

  it('falls back to ~/.config and the default URL', () => {
    expect(configFilePath({ HOME: '/home/u' })).toBe('/home/u/.config/parley/config.json')
    expect(resolveConfig(parseArgs([], {}), { XDG_CONFIG_HOME: join(home.path, 'none') })).toMatchObject({
      url: 'http://127.0.0.1:3000',
      apiKey: undefined,
      transport: 'ws',
    })
  })

  it('resolves file arguments against the caller directory only under the pnpm script', () => {
    const env = { XDG_CONFIG_HOME: join(home.path, 'none'), INIT_CWD: '/somewhere' }
    expect(resolveConfig(parseArgs([], {}), { ...env, npm_lifecycle_event: 'parley' }).cwd).toBe('/somewhere')
    expect(resolveConfig(parseArgs([], {}), env).cwd).toBe(process.cwd())
  })

  it('reports a broken config file or URL as a usage error', () => {
    writeFileSync(file, '{ not json')
    expect(() => resolveConfig(parseArgs([], {}), { XDG_CONFIG_HOME: home.path })).toThrow(
      /is not valid JSON/,
    )
    writeFileSync(file, JSON.stringify({ url: 5 }))
    expect(() => resolveConfig(parseArgs([], {}), { XDG_CONFIG_HOME: home.path })).toThrow(
      /"url" .* must be a string/,
    )
    writeFileSync(file, '{}')
    expect(() => resolveConfig(parseArgs(['--url', 'ftp://x'], {}), { XDG_CONFIG_HOME: home.path })).toThrow(
      /must start with http/,
    )
  })
})
