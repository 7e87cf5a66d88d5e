import { describe, expect, it } from 'vitest'
import { ConfigError, isLoopbackHost, loadConfig } from '../src/config.ts'

describe('loadConfig', () => {
  it('runs on a fresh machine with nothing set: PGlite, scripted, local auth, 127.0.0.1:3000', () => {
    expect(loadConfig({ INIT_CWD: '/srv/parley' })).toEqual({
      port: 3000,
      host: '127.0.0.1',
      databaseUrl: null,
      dataDir: '/srv/parley/.parley',
      provider: 'scripted',
      openaiApiKey: null,
      openaiBaseUrl: null,
      model: null,
      auth: 'local',
      logLevel: 'info',
      leaseMs: 30_000,
      rateLimitPerMin: 600,
      maxStreamsPerUser: 16,
    })
  })

  it('resolves PARLEY_DATA_DIR against the directory the command was run from', () => {
    // `pnpm start` runs the server in apps/server; pnpm passes the caller's directory as INIT_CWD.
    expect(loadConfig({ INIT_CWD: '/home/me/project' }).dataDir).toBe('/home/me/project/.parley')
    expect(loadConfig({ INIT_CWD: '/home/me/project', PARLEY_DATA_DIR: 'data' }).dataDir).toBe(
      '/home/me/project/data',
    )
    expect(loadConfig({ INIT_CWD: '/home/me/project', PARLEY_DATA_DIR: '/var/lib/parley' }).dataDir).toBe(
      '/var/lib/parley',
    )
  })

  it('defaults to the Responses provider when an OpenAI key is set', () => {
    expect(loadConfig({ OPENAI_API_KEY: 'sk-test' }).provider).toBe('openai-responses')
    expect(loadConfig({ OPENAI_API_KEY: 'sk-test', PARLEY_PROVIDER: 'openai-chat' }).provider).toBe(
      'openai-chat',
    )
  })

  it('defaults to keys auth off loopback and refuses local auth there', () => {
    expect(loadConfig({ HOST: '0.0.0.0' }).auth).toBe('keys')
    expect(() => loadConfig({ HOST: '0.0.0.0', PARLEY_AUTH: 'local' })).toThrow(ConfigError)
    expect(() => loadConfig({ HOST: '0.0.0.0', PARLEY_AUTH: 'local' })).toThrow(
      /PARLEY_AUTH=local is refused/,
    )
    expect(loadConfig({ HOST: '::1', PARLEY_AUTH: 'local' }).auth).toBe('local')
  })

  it('names the bad variable in one line', () => {
    for (const [env, pattern] of [
      [{ PORT: 'eighty' }, /^Invalid PORT: /],
      [{ PORT: '70000' }, /^Invalid PORT: /],
      [{ PARLEY_PROVIDER: 'gpt' }, /^Invalid PARLEY_PROVIDER: /],
      [{ PARLEY_AUTH: 'none' }, /^Invalid PARLEY_AUTH: /],
      [{ DATABASE_URL: 'mysql://x' }, /^Invalid DATABASE_URL: /],
      [{ OPENAI_BASE_URL: 'not a url' }, /^Invalid OPENAI_BASE_URL: /],
      [{ PARLEY_PROVIDER: 'openai-chat' }, /needs OPENAI_API_KEY/],
    ] as const) {
      let message = ''
      try {
        loadConfig(env)
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError)
        message = (error as ConfigError).message
      }
      expect(message).toMatch(pattern)
      expect(message).not.toContain('\n')
    }
  })

  it('treats empty variables as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' })).toMatchObject({ port: 3000, databaseUrl: null })
  })

  it('knows loopback hosts', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'])
      expect(isLoopbackHost(host)).toBe(true)
    for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.test']) expect(isLoopbackHost(host)).toBe(false)
  })
})
