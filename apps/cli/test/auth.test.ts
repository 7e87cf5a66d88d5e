import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createUser, parley, type ServerProcess, startServer, tempDir } from './harness.ts'

const data = tempDir('auth-data')
const config = tempDir('auth-config')
let server: ServerProcess
let apiKey: string

beforeAll(async () => {
  apiKey = await createUser(data.path, 'cli-tester')
  server = await startServer({ dataDir: data.path, env: { PARLEY_AUTH: 'keys' } })
}, 120_000)

afterAll(async () => {
  await server?.stop()
  data.remove()
  config.remove()
})

describe('authentication', () => {
  it('exits 3 without a key or with a wrong one', async () => {
    const none = await parley(config.path, ['conversations', 'list'], { url: server.url })
    expect(none.code).toBe(3)
    expect(none.stderr).toMatch(/^parley: .*API key.*\(set --api-key or PARLEY_API_KEY\)\n$/)
    const wrong = await parley(config.path, ['send', 'hi', '--api-key', 'pk_wrong'], { url: server.url })
    expect(wrong.code).toBe(3)
    // chat checks the key before its first prompt, not at each command.
    const chat = await parley(config.path, ['chat', '--api-key', 'pk_wrong'], {
      url: server.url,
      input: '/list\n',
    })
    expect(chat.code).toBe(3)
    expect(chat.stderr).toMatch(/^parley: .*API key.*\n$/)
    expect(chat.stdout).toBe('')
  })

  it('sends the key from the environment, a flag or the config file', async () => {
    const viaEnv = await parley(config.path, ['send', 'hello', '--json'], {
      url: server.url,
      env: { PARLEY_API_KEY: apiKey },
    })
    expect(viaEnv.code).toBe(0)
    expect(JSON.parse(viaEnv.stdout)).toMatchObject({ status: 'completed' })

    const viaFlag = await parley(config.path, ['conversations', 'list', '--json', '--api-key', apiKey], {
      url: server.url,
    })
    expect(viaFlag.code).toBe(0)
    expect((JSON.parse(viaFlag.stdout) as { conversations: unknown[] }).conversations).toHaveLength(1)

    mkdirSync(join(config.path, 'parley'), { recursive: true })
    writeFileSync(join(config.path, 'parley', 'config.json'), JSON.stringify({ url: server.url, apiKey }))
    const viaFile = await parley(config.path, ['conversations', 'list', '--json'])
    expect(viaFile.code).toBe(0)
    // Streaming over SSE carries the key as well.
    const overSse = await parley(config.path, ['send', 'over sse', '--transport', 'sse', '--json'])
    expect(overSse.code).toBe(0)
    expect(JSON.parse(overSse.stdout)).toMatchObject({ status: 'completed' })
  })
})
