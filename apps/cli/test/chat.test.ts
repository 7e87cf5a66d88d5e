import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  freePort,
  PtySession,
  parley,
  parleyJson,
  type ServerProcess,
  startServer,
  tempDir,
} from './harness.ts'

interface ShowJson {
  conversation: { id: string; title: string }
  turns: {
    id: string
    status: string
    output: { type: string; role?: string; content?: { text?: string }[] }[]
  }[]
}

const config = tempDir('chat-config')

afterAll(() => config.remove())

function assistantText(turn: ShowJson['turns'][number]): string {
  return turn.output
    .filter((item) => item.type === 'message' && item.role === 'assistant')
    .map((item) => (item.content ?? []).map((part) => part.text ?? '').join(''))
    .join('')
}

describe('parley chat in a terminal', () => {
  let data: ReturnType<typeof tempDir>
  let server: ServerProcess
  beforeAll(async () => {
    data = tempDir('chat-data')
    server = await startServer({ dataDir: data.path })
  }, 90_000)
  afterAll(async () => {
    await server?.stop()
    data?.remove()
  })

  it('streams replies, runs the commands, cancels with Ctrl-C and exits with Ctrl-C at the prompt', async () => {
    const session = new PtySession(config.path, ['chat'], { url: server.url })
    await session.waitFor(/you › $/)

    session.write('Hello [[words:30]]\r')
    await session.waitFor(/done · \d+ tokens\n/)
    let mark = session.output.length

    session.write('/title First chat\r')
    await session.waitFor(/Renamed to “First chat”\./, { from: mark })
    session.write('/list\r')
    const listed = await session.waitFor(/\* (conv_\w+) {2}First chat/, { from: mark })
    const firstId = listed[1]!

    mark = session.output.length
    session.write('/new Second\r')
    await session.waitFor(/New conversation conv_\w+ “Second”\./, { from: mark })
    session.write(`/switch ${firstId}\r`)
    await session.waitFor(/Switched to “First chat”/, { from: mark })

    mark = session.output.length
    session.write('/regenerate\r')
    await session.waitFor(/done · \d+ tokens\n/, { from: mark })

    session.write('/help\r')
    await session.waitFor(/\/regenerate +ask for another reply/, { from: mark })

    mark = session.output.length
    session.write('Tell me a long story [[words:400]] [[delay:30]]\r')
    // Some of the reply has streamed: cancel it.
    await session.waitFor(/Tell me a long story.*\n\S+ \S+ \S+ \S+ \S+/, { from: mark })
    session.write('\x03')
    await session.waitFor(/cancelled — what arrived so far is kept/, { from: mark, timeoutMs: 20_000 })
    await session.waitFor(/you › $/, { from: mark })

    session.write('\x03')
    expect(await session.exit()).toBe(0)

    const shown = await parleyJson<ShowJson>(config.path, ['conversations', 'show', firstId], {
      url: server.url,
    })
    expect(shown.conversation.title).toBe('First chat')
    expect(shown.turns.map((turn) => turn.status)).toEqual(['completed', 'cancelled'])
  }, 120_000)

  it('takes piped lines in order, none lost while it starts or while a reply streams', async () => {
    const result = await parley(config.path, ['chat'], {
      url: server.url,
      input: 'Piped first [[words:20]]\nPiped second [[words:5]]\n/title Piped chat\n',
    })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/Renamed to “Piped chat”\./)
    const listed = await parleyJson<{ conversations: { id: string; title: string }[] }>(
      config.path,
      ['conversations', 'list'],
      { url: server.url },
    )
    const piped = listed.conversations.find((conversation) => conversation.title === 'Piped chat')
    const shown = await parleyJson<ShowJson>(config.path, ['conversations', 'show', piped?.id ?? ''], {
      url: server.url,
    })
    expect(shown.turns.map((turn) => turn.status)).toEqual(['completed', 'completed'])
  })
})

describe('parley chat across a server restart', () => {
  let data: ReturnType<typeof tempDir>
  let port: number
  let server: ServerProcess | null = null
  beforeAll(async () => {
    data = tempDir('restart-data')
    port = await freePort()
    server = await startServer({ dataDir: data.path, port })
  }, 90_000)
  afterAll(async () => {
    await server?.stop()
    data?.remove()
  })

  /** Starts a slow reply, stops the server mid-reply with `signal`, starts it again on the same port and data. */
  async function restartMidReply(signal: NodeJS.Signals) {
    const session = new PtySession(config.path, ['chat'], { url: `http://127.0.0.1:${port}` })
    await session.waitFor(/you › $/)
    session.write(`A slow reply ${signal} [[words:120]] [[delay:50]]\r`)
    // Part of the reply has arrived.
    await session.waitFor(new RegExp(`A slow reply ${signal}.*\\n(\\S+ ){8}`))
    await server!.stop(signal)
    server = null
    const mark = session.output.length
    server = await startServer({ dataDir: data.path, port })
    return { session, mark }
  }

  it('resumes the same turn after a SIGTERM, without a second model call', async () => {
    const { session, mark } = await restartMidReply('SIGTERM')
    const end = await session.waitFor(/(done|replayed) · \d+ tokens|interrupted — the server stopped/, {
      from: mark,
      timeoutMs: 60_000,
    })
    session.write('/exit\r')
    expect(await session.exit()).toBe(0)

    const list = await parleyJson<{ conversations: { id: string }[] }>(
      config.path,
      ['conversations', 'list'],
      {
        url: server!.url,
      },
    )
    const shown = await parleyJson<ShowJson>(
      config.path,
      ['conversations', 'show', list.conversations[0]!.id],
      {
        url: server!.url,
      },
    )
    // One turn: the reconnect attached to it, it did not send again.
    expect(shown.turns).toHaveLength(1)
    const stored = assistantText(shown.turns[0]!)
    if (end[1]) {
      expect(shown.turns[0]!.status).toBe('completed')
      // Every word once: nothing lost, nothing repeated across the reconnect.
      expect(session.output.split(stored).length - 1).toBe(1)
    } else {
      expect(shown.turns[0]!.status).toBe('interrupted')
    }
  }, 150_000)

  it('shows the turn as interrupted after the server was killed mid-reply', async () => {
    const { session, mark } = await restartMidReply('SIGKILL')
    await session.waitFor(/connection lost, reconnecting…/)
    await session.waitFor(/reconnected, resuming…/, { timeoutMs: 60_000 })
    await session.waitFor(/interrupted — the server stopped while replying; \/regenerate asks again/, {
      from: mark,
      timeoutMs: 90_000,
    })
    await session.waitFor(/you › $/, { from: mark })
    // The interrupted turn can be asked again.
    const before = session.output.length
    session.write('/regenerate\r')
    await session.waitFor(/done · \d+ tokens/, { from: before, timeoutMs: 60_000 })
    session.write('\x03')
    expect(await session.exit()).toBe(0)
  }, 200_000)
})
