import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chatGptExport, legacyChatFile } from './fixtures.ts'
import { PtySession, parley, parleyJson, type ServerProcess, startServer, tempDir } from './harness.ts'

interface ImportJson {
  format: string
  imported: number
  skipped: number
  conversations: { id: string; externalId: string; title: string; status: string; turns: number }[]
}
interface ListJson {
  conversations: { id: string; title: string; metadata: Record<string, string> }[]
}

const data = tempDir('import-data')
const config = tempDir('import-config')
const files = tempDir('import-files')
let server: ServerProcess
const cli = (args: string[], options: { cwd?: string } = {}) =>
  parley(config.path, args, { url: server.url, ...options })
const json = <T>(args: string[]) => parleyJson<T>(config.path, args, { url: server.url })
const listAll = () => json<ListJson>(['conversations', 'list', '--limit', '500'])

function writeJson(name: string, value: unknown): string {
  const path = join(files.path, name)
  writeFileSync(path, JSON.stringify(value))
  return path
}

beforeAll(async () => {
  server = await startServer({ dataDir: data.path })
}, 90_000)

afterAll(async () => {
  await server?.stop()
  data.remove()
  config.remove()
  files.remove()
})

describe('parley import', () => {
  it('imports a legacy chat file once: the second import skips everything', async () => {
    writeJson('legacy.json', legacyChatFile(5))
    // A relative path resolves against the directory parley was started from.
    const first = await parley(config.path, ['import', 'legacy.json', '--json'], {
      url: server.url,
      cwd: files.path,
    })
    expect(first.code, first.stderr).toBe(0)
    const summary = JSON.parse(first.stdout) as ImportJson
    expect(summary).toMatchObject({ format: 'legacy', imported: 5, skipped: 0 })
    expect(summary.conversations.map((c) => c.externalId).sort()).toEqual([
      'legacy:legacy-0',
      'legacy:legacy-1',
      'legacy:legacy-2',
      'legacy:legacy-3',
      'legacy:legacy-4',
    ])
    expect(summary.conversations.every((c) => c.turns === 2)).toBe(true)

    const again = await cli(['import', join(files.path, 'legacy.json'), '--format', 'legacy'])
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/legacy chat file: 5 conversations — 0 imported, 5 skipped/)
    expect(again.stdout.match(/skipped +conv_/g)).toHaveLength(5)

    const imported = (await listAll()).conversations.filter((c) => c.metadata['source'] === 'legacy')
    expect(imported).toHaveLength(5)
    const shown = await json<{ turns: { input: unknown[]; output: unknown[] }[] }>([
      'conversations',
      'show',
      summary.conversations[0]!.id,
    ])
    expect(shown.turns).toHaveLength(2)
    const human = await cli(['conversations', 'show', summary.conversations[0]!.id])
    expect(human.stdout).toMatch(/Question \d[\s\S]*Answer \d[\s\S]*Follow-up \d[\s\S]*More about \d/)
  })

  it('imports a ChatGPT export along its current branch, idempotently', async () => {
    const path = writeJson('conversations.json', chatGptExport(3))
    const first = await json<ImportJson>(['import', path])
    expect(first).toMatchObject({ format: 'chatgpt', imported: 3, skipped: 0 })
    const second = await json<ImportJson>(['import', path, '--format', 'chatgpt'])
    expect(second).toMatchObject({ format: 'chatgpt', imported: 0, skipped: 3 })
    expect(second.conversations.map((c) => c.id).sort()).toEqual(first.conversations.map((c) => c.id).sort())

    const shown = await cli(['conversations', 'show', first.conversations[0]!.id])
    expect(shown.stdout).toMatch(/Hello 0[\s\S]*Hi there 0/)
    expect(shown.stdout).not.toContain('regenerated')
  })

  it('rejects a corrupt file as a whole: nothing of it is written', async () => {
    const before = (await listAll()).conversations.length
    const file = legacyChatFile(4, { prefix: 'corrupt' })
    ;(file['corrupt-3'] as { messages: unknown[] }).messages.push({ role: 'user', text: 42 })
    const path = writeJson('corrupt.json', file)
    const result = await cli(['import', path])
    expect(result.code, result.stderr).toBe(2)
    expect(result.stderr).toBe(
      'parley: Invalid legacy chat file: corrupt-3.messages.4.text: expected a string\n',
    )
    const after = await listAll()
    expect(after.conversations).toHaveLength(before)
    expect(after.conversations.some((c) => c.metadata['externalId']?.startsWith('legacy:corrupt'))).toBe(
      false,
    )

    const truncated = join(files.path, 'truncated.json')
    writeFileSync(truncated, JSON.stringify(legacyChatFile(2)).slice(0, 200))
    const broken = await cli(['import', truncated])
    expect(broken.code).toBe(2)
    expect(broken.stderr).toMatch(/^parley: The file is not valid JSON: [^(]+\n$/)
    expect((await listAll()).conversations).toHaveLength(before)
  })

  it('checks an explicit --format and reports missing files as usage errors', async () => {
    const path = writeJson('chatgpt-again.json', chatGptExport(1))
    const wrong = await cli(['import', path, '--format', 'legacy'])
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toMatch(/is a ChatGPT export, not a legacy chat file/)
    const missing = await cli(['import', join(files.path, 'nope.json')])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/cannot read .*nope\.json/)
  })

  it('shows upload progress on a terminal for a large file', async () => {
    const path = writeJson('big.json', legacyChatFile(50, { prefix: 'big', textSize: 60_000 }))
    // Above the 2 MiB every other request is limited to: imports have their own limit.
    expect(readFileSync(path).byteLength).toBeGreaterThan(2 * 1024 * 1024)
    const session = new PtySession(config.path, ['import', path], { url: server.url })
    await session.waitFor(/50 conversations — 50 imported, 0 skipped/, { timeoutMs: 60_000 })
    expect(await session.exit()).toBe(0)
    expect(session.output).toMatch(/uploading .*100% \d+\.\d\/\d+\.\d MiB/)
  }, 90_000)
})

describe('parley export', () => {
  it('round-trips through parley import', async () => {
    const sent = await json<{ conversationId: string; text: string }>(['send', 'calc: 2+3'])
    const out = join(files.path, 'export.json')
    const exported = await cli(['export', '--output', out])
    expect(exported.code).toBe(0)
    const file = JSON.parse(readFileSync(out, 'utf8')) as { format: string; conversations: { id: string }[] }
    expect(file.format).toBe('parley')
    const total = (await listAll()).conversations.length
    expect(file.conversations).toHaveLength(total)
    expect(exported.stderr).toBe(`Exported ${total} conversations to ${out}\n`)

    // Imported conversations keep their origin: only the native one is new, and only once.
    const first = await json<ImportJson>(['import', out])
    expect(first.format).toBe('parley')
    expect(first.imported).toBe(1)
    expect(first.skipped).toBe(total - 1)
    const copy = first.conversations.find((c) => c.status === 'imported')!
    expect(copy.externalId).toBe(`parley:${sent.conversationId}`)
    const second = await json<ImportJson>(['import', out])
    expect(second).toMatchObject({ imported: 0, skipped: total })

    const original = await json<{ turns: { input: unknown[]; output: unknown[] }[] }>([
      'conversations',
      'show',
      sent.conversationId,
    ])
    const copied = await json<{ turns: { input: unknown[]; output: unknown[] }[] }>([
      'conversations',
      'show',
      copy.id,
    ])
    const bodies = (turns: { input: unknown[]; output: unknown[] }[]) =>
      turns.map((turn) => ({
        input: turn.input.map(strip),
        output: turn.output.map(strip),
      }))
    expect(bodies(copied.turns)).toEqual(bodies(original.turns))
  })

  it('exports every conversation of an account larger than one page', async () => {
    const imported = await json<ImportJson>([
      'import',
      writeJson('many.json', legacyChatFile(130, { prefix: 'many' })),
    ])
    expect(imported.imported).toBe(130)
    const total = (await listAll()).conversations.length
    // An export of all conversations comes 100 to a response.
    expect(total).toBeGreaterThan(100)

    const out = join(files.path, 'all.json')
    const exported = await cli(['export', '--output', out])
    expect(exported.code, exported.stderr).toBe(0)
    const file = JSON.parse(readFileSync(out, 'utf8')) as { format: string; conversations: { id: string }[] }
    expect(file.format).toBe('parley')
    expect(new Set(file.conversations.map((c) => c.id)).size).toBe(total)
    expect(exported.stderr).toBe(`Exported ${total} conversations to ${out}\n`)

    const markdown = await cli(['export', '--format', 'markdown'])
    expect(markdown.code).toBe(0)
    expect(markdown.stdout.match(/^- Conversation: `conv_/gm)).toHaveLength(total)
  })

  it('exports one conversation as markdown to stdout', async () => {
    const sent = await json<{ conversationId: string; text: string }>(['send', 'Markdown please'])
    const result = await cli(['export', '--conversation', sent.conversationId, '--format', 'markdown'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^# Markdown please\n/)
    expect(result.stdout).toContain('### User\n\nMarkdown please')
    expect(result.stdout).toContain(sent.text.split('\n')[0]!)
    const missing = await cli(['export', '--conversation', 'conv_doesnotexist000000'])
    expect(missing.code, missing.stderr).toBe(4)
  })
})

/** An item without what the store minted (ids, seq, token counts, dates). */
function strip(item: unknown): unknown {
  const { id, conversationId, turnId, seq, side, tokenCount, createdAt, ...body } = item as Record<
    string,
    unknown
  >
  return body
}
