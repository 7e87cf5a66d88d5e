import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createStores } from '@parley/persistence'
import { describe, expect, it } from 'vitest'

const SERVER_DIR = new URL('..', import.meta.url).pathname

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function start(script: string, args: string[], env: Record<string, string>): ChildProcess {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(PORT|HOST|DATABASE_URL|PARLEY_|OPENAI_)/.test(key)),
  )
  return spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: SERVER_DIR,
    env: { ...base, INIT_CWD: SERVER_DIR, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

function finished(child: ChildProcess): Promise<Run> {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk) => (stdout += chunk))
  child.stderr?.on('data', (chunk) => (stderr += chunk))
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })))
}

const run = (script: string, args: string[], env: Record<string, string> = {}) =>
  finished(start(script, args, env))

describe('admin commands', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'parley-admin-'))

  it('migrate applies migrations (exit 0)', async () => {
    const result = await run('src/admin.ts', ['migrate'], { PARLEY_DATA_DIR: dataDir })
    expect(result).toMatchObject({ code: 0, stdout: 'Migrations applied.\n' })
  }, 60_000)

  it('create-user --json prints the user and a key that authenticates', async () => {
    const result = await run('src/admin.ts', ['create-user', 'ada', '--json'], { PARLEY_DATA_DIR: dataDir })
    expect(result.code).toBe(0)
    const printed = JSON.parse(result.stdout) as { user: { id: string; name: string }; apiKey: string }
    expect(printed.user).toMatchObject({ name: 'ada', id: expect.stringMatching(/^user_/) })
    const stores = await createStores({ dataDir })
    try {
      expect(await stores.users.authenticate(printed.apiKey)).toMatchObject({
        id: printed.user.id,
        name: 'ada',
      })
      expect(await stores.users.authenticate(`${printed.apiKey}x`)).toBeNull()
    } finally {
      await stores.close()
    }
  }, 60_000)

  it('usage errors exit 2; bad configuration exits 1 with one line and no stack', async () => {
    expect((await run('src/admin.ts', [])).code).toBe(2)
    expect((await run('src/admin.ts', ['create-user'])).code).toBe(2)
    expect((await run('src/admin.ts', ['frobnicate'])).code).toBe(2)
    const bad = await run('src/admin.ts', ['migrate'], { DATABASE_URL: 'mysql://nope' })
    expect(bad.code).toBe(1)
    expect(bad.stderr.trim().split('\n')).toHaveLength(1)
    expect(bad.stderr).toContain('DATABASE_URL')
  }, 60_000)
})

describe('main', () => {
  it('refuses bad configuration with one clear line', async () => {
    for (const env of [{ PORT: 'x' }, { HOST: '0.0.0.0', PARLEY_AUTH: 'local' }] as Record<
      string,
      string
    >[]) {
      const result = await run('src/main.ts', [], env)
      expect(result.code).toBe(1)
      const lines = result.stderr.trim().split('\n')
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(/^parley: (Invalid PORT|PARLEY_AUTH=local is refused)/)
      expect(result.stderr).not.toMatch(/\n\s+at /)
    }
  }, 60_000)

  it('starts with no configuration, logs its URL, serves, and stops on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'parley-main-'))
    const child = start('src/main.ts', [], { PORT: '0', PARLEY_DATA_DIR: dataDir, PARLEY_LOG_LEVEL: 'warn' })
    const done = finished(child)
    const url = await new Promise<string>((resolve, reject) => {
      let seen = ''
      child.stdout?.on('data', (chunk) => {
        seen += chunk
        const match = /Parley is running on (http:\/\/127\.0\.0\.1:\d+)/.exec(seen)
        if (match?.[1]) resolve(match[1])
      })
      child.once('exit', () => reject(new Error(`exited early: ${seen}`)))
    })
    const health = await fetch(`${url}/trpc/health.check`)
    expect(await health.json()).toMatchObject({
      result: { data: { status: 'ok', auth: 'local', provider: 'scripted' } },
    })
    child.kill('SIGTERM')
    expect((await done).code).toBe(0)
  }, 60_000)
})
