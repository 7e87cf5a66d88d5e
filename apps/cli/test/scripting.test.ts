import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  freePort,
  parley,
  parleyJson,
  type ServerProcess,
  spawnParley,
  startServer,
  tempDir,
} from './harness.ts'

interface SendJson {
  conversationId: string
  turnId: string
  requestId: string
  status: string
  text: string
  usage: { totalTokens: number } | null
  replayed: boolean
  error: { reason: string; message: string } | null
}

const data = tempDir('scripting-data')
const config = tempDir('scripting-config')
let server: ServerProcess
const cli = (args: string[], input?: string) =>
  parley(config.path, args, { url: server.url, ...(input !== undefined ? { input } : {}) })
const json = <T>(args: string[]) => parleyJson<T>(config.path, args, { url: server.url })

beforeAll(async () => {
  server = await startServer({ dataDir: data.path })
}, 90_000)

afterAll(async () => {
  await server?.stop()
  data.remove()
  config.remove()
})

describe('parley send', () => {
  it('creates a conversation and prints one JSON object with the reply', async () => {
    const result = await json<SendJson>(['send', 'Hello there', '--request-id', 'req-send-1'])
    expect(Object.keys(result).sort()).toEqual(
      ['conversationId', 'error', 'replayed', 'requestId', 'status', 'text', 'turnId', 'usage'].sort(),
    )
    expect(result).toMatchObject({
      requestId: 'req-send-1',
      status: 'completed',
      replayed: false,
      error: null,
    })
    expect(result.conversationId).toMatch(/^conv_/)
    expect(result.turnId).toMatch(/^resp_/)
    expect(result.text.length).toBeGreaterThan(0)
    expect(result.usage?.totalTokens).toBeGreaterThan(0)
  })

  it('replays a retried request id without a second model call, and refuses the id for another message', async () => {
    const first = await json<SendJson>(['send', 'Count to three', '--request-id', 'req-retry'])
    const again = await json<SendJson>([
      'send',
      'Count to three',
      '--request-id',
      'req-retry',
      '--conversation',
      first.conversationId,
    ])
    expect(again).toMatchObject({
      turnId: first.turnId,
      text: first.text,
      replayed: true,
      status: 'completed',
    })
    const shown = await json<{ turns: unknown[] }>(['conversations', 'show', first.conversationId])
    expect(shown.turns).toHaveLength(1)

    const reused = await cli([
      'send',
      'Something else',
      '--request-id',
      'req-retry',
      '--conversation',
      first.conversationId,
    ])
    expect(reused.code).toBe(6)
    expect(reused.stderr.trim().split('\n')).toHaveLength(1)
    expect(reused.stderr).toMatch(/^parley: /)

    // The same retry without --conversation would land in a new conversation: it says what to
    // pass, and leaves no empty conversation behind.
    const before = await json<{ conversations: unknown[] }>(['conversations', 'list', '--limit', '200'])
    const lost = await cli(['send', 'Count to three', '--request-id', 'req-retry'])
    expect(lost.code).toBe(6)
    expect(lost.stderr).toBe(
      'parley: this request id was already used; to replay that send, pass its --conversation too\n',
    )
    const after = await json<{ conversations: unknown[] }>(['conversations', 'list', '--limit', '200'])
    expect(after.conversations).toHaveLength(before.conversations.length)
  })

  it('reads the message from stdin with - and streams plain text to stdout', async () => {
    const result = await cli(['send', '-'], 'Hi from stdin [[words:12]]')
    expect(result.code).toBe(0)
    expect(result.stdout.trim().split(/\s+/).length).toBeGreaterThanOrEqual(12)
    expect(result.stderr).toBe('')
  })

  it('shows tool calls as steps on stderr, the reply on stdout', async () => {
    const result = await cli(['send', 'calc: 2+3'])
    expect(result.code).toBe(0)
    expect(result.stderr).toMatch(/⚙ calculator\(.*2\s*\+\s*3.*\)/)
    expect(result.stderr).toMatch(/✓ calculator → .*"result":5.* \(\d+ ms\)/)
    expect(result.stdout).toContain('5')
  })

  it('cancels the running turn on Ctrl-C and exits 1 with the cancelled status', async () => {
    const run = spawnParley(config.path, ['send', 'Tell a long story [[words:400]] [[delay:40]]'], {
      url: server.url,
    })
    // Some of the reply has streamed: interrupt.
    await run.waitFor(/(\S+\s+){6}/)
    run.child.kill('SIGINT')
    const result = await run.done
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/cancelling…[\s\S]*the turn was cancelled/)
    expect(result.stdout.split(/\s+/).length).toBeLessThan(400)

    const listed = await json<{ conversations: { id: string }[] }>(['conversations', 'list'])
    const shown = await json<{ turns: { status: string }[] }>([
      'conversations',
      'show',
      listed.conversations[0]!.id,
    ])
    expect(shown.turns.map((turn) => turn.status)).toEqual(['cancelled'])
  })
})

describe('parley conversations', () => {
  it('lists, shows, renames and deletes', async () => {
    const sent = await json<SendJson>(['send', 'A conversation to manage'])
    const listed = await json<{ conversations: { id: string; title: string }[]; nextCursor: string | null }>([
      'conversations',
      'list',
    ])
    expect(listed.conversations.map((c) => c.id)).toContain(sent.conversationId)
    expect(listed.conversations[0]?.id).toBe(sent.conversationId)

    const human = await cli(['conversations', 'list'])
    expect(human.stdout).toContain(`${sent.conversationId}`)
    expect(human.stdout).toContain('A conversation to manage')

    const shown = await json<{
      conversation: { id: string }
      turns: { status: string; input: unknown[]; output: unknown[] }[]
    }>(['conversations', 'show', sent.conversationId])
    expect(shown.conversation.id).toBe(sent.conversationId)
    expect(shown.turns[0]?.status).toBe('completed')
    expect(shown.turns[0]?.output.length).toBeGreaterThan(0)
    const showHuman = await cli(['conversations', 'show', sent.conversationId])
    expect(showHuman.stdout).toContain('A conversation to manage')
    expect(showHuman.stdout).toContain(sent.text.split('\n')[0]!)

    const renamed = await json<{ id: string; title: string }>([
      'conversations',
      'rename',
      sent.conversationId,
      'New',
      'name',
    ])
    expect(renamed.title).toBe('New name')

    const deleted = await json<{ id: string; deleted: boolean }>([
      'conversations',
      'delete',
      sent.conversationId,
    ])
    expect(deleted).toEqual({ id: sent.conversationId, deleted: true })
    const gone = await cli(['conversations', 'show', sent.conversationId])
    expect(gone.code).toBe(4)
    expect(gone.stderr).toMatch(/^parley: No conversation found/)
  })
})

describe('exit codes and configuration', () => {
  it('tells usage errors (2) and not found (4) apart', async () => {
    for (const args of [
      [],
      ['frobnicate'],
      ['send'],
      ['send', 'x', '--bogus'],
      ['conversations', 'rename', 'x'],
    ]) {
      const result = await cli(args)
      expect(result.code, args.join(' ')).toBe(2)
    }
    const missing = await cli(['send', 'x', '--conversation', 'conv_doesnotexist000000'])
    expect(missing.code).toBe(4)
    const help = await cli(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/^Usage: parley/)
  })

  it('says in one line, without a stack, that the server is unreachable (5)', async () => {
    const port = await freePort()
    const result = await parley(config.path, ['conversations', 'list'], { url: `http://127.0.0.1:${port}` })
    expect(result.code).toBe(5)
    expect(result.stderr).toBe(
      `parley: cannot reach the Parley server at http://127.0.0.1:${port} (is it running? set --url or PARLEY_URL)\n`,
    )
  })

  it('ends quietly when the reader of its output goes away (a closed pipe)', async () => {
    await json(['send', 'Something to list'])
    const run = spawnParley(config.path, ['conversations', 'list'], { url: server.url })
    // The reading end closes before the list is written, as `| head -0` would.
    run.child.stdout.destroy()
    const result = await run.done
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
  })

  it('reads the server from the config file, overridden by env and flags', async () => {
    const home = tempDir('config-file')
    try {
      mkdirSync(join(home.path, 'parley'))
      writeFileSync(join(home.path, 'parley', 'config.json'), JSON.stringify({ url: server.url }))
      const fromFile = await parley(home.path, ['conversations', 'list', '--json'])
      expect(fromFile.code).toBe(0)
      const dead = `http://127.0.0.1:${await freePort()}`
      const envWins = await parley(home.path, ['conversations', 'list'], { env: { PARLEY_URL: dead } })
      expect(envWins.code).toBe(5)
      const flagWins = await parley(home.path, ['conversations', 'list', '--url', server.url], {
        env: { PARLEY_URL: dead },
      })
      expect(flagWins.code).toBe(0)
    } finally {
      home.remove()
    }
  })
})
