import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const CLI_DIR = resolve(import.meta.dirname, '..')
const REPO = resolve(CLI_DIR, '../..')
const SERVER_MAIN = join(REPO, 'apps/server/src/main.ts')
const SERVER_ADMIN = join(REPO, 'apps/server/src/admin.ts')
const CLI_MAIN = join(CLI_DIR, 'src/main.ts')
// By URL: `--import tsx` would be resolved from the working directory, which tests vary.
const TSX = import.meta.resolve('tsx')

/** The environment without anything of the caller's that would change what is tested. */
function cleanEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const key of Object.keys(env)) {
    if (/^(PARLEY_|OPENAI_|DATABASE_URL$|INIT_CWD$|npm_|FORCE_COLOR$|NO_COLOR$)/.test(key)) delete env[key]
  }
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key]
    else env[key] = value
  }
  return env
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `parley-cli-${prefix}-`))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

export interface ServerProcess {
  url: string
  port: number
  child: ChildProcess
  output: () => string
  /** Stops the server and waits for the process to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>
}

/** A real Parley server as a child process (scripted model, embedded PGlite in `dataDir`). */
export async function startServer(options: {
  dataDir: string
  port?: number
  env?: Record<string, string | undefined>
}): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER_MAIN], {
    cwd: REPO,
    env: cleanEnv({
      PORT: String(options.port ?? 0),
      HOST: '127.0.0.1',
      PARLEY_DATA_DIR: options.dataDir,
      PARLEY_PROVIDER: 'scripted',
      PARLEY_LOG_LEVEL: 'warn',
      ...options.env,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString()
  })
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()))
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 60_000)
    const onData = () => {
      const match = /Parley is running on (http:\/\/\S+)/.exec(output)
      if (match) {
        clearTimeout(timer)
        child.stdout.off('data', onData)
        resolveUrl(match[1]!.replace(/\/+$/, ''))
      }
    }
    child.stdout.on('data', onData)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code}:\n${output}`))
    })
  })
  return {
    url,
    port: Number(new URL(url).port),
    child,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    },
  }
}

/** `parley-server create-user NAME --json` on a data dir (while no server holds it). */
export async function createUser(dataDir: string, name: string): Promise<string> {
  const result = await run(
    process.execPath,
    ['--import', 'tsx', SERVER_ADMIN, 'create-user', name, '--json'],
    {
      cwd: REPO,
      env: cleanEnv({ PARLEY_DATA_DIR: dataDir, PARLEY_LOG_LEVEL: 'warn' }),
    },
  )
  if (result.code !== 0) throw new Error(`create-user failed: ${result.stderr}`)
  return (JSON.parse(result.stdout) as { apiKey: string }).apiKey
}

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

function run(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; input?: string; timeoutMs?: number },
): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`timed out: ${args.join(' ')}\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, options.timeoutMs ?? 60_000)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolveRun({ code, stdout, stderr })
    })
    child.stdin.end(options.input ?? '')
  })
}

export interface CliOptions {
  url?: string
  env?: Record<string, string | undefined>
  input?: string
  cwd?: string
  timeoutMs?: number
}

/** The environment a `parley` process gets in tests: its own (empty) config directory, no colors. */
export function cliEnv(configHome: string, options: CliOptions = {}): NodeJS.ProcessEnv {
  return cleanEnv({
    XDG_CONFIG_HOME: configHome,
    NO_COLOR: '1',
    ...(options.url ? { PARLEY_URL: options.url } : {}),
    ...options.env,
  })
}

/** Runs the real `parley` process: `node --import tsx src/main.ts …`. */
export function parley(configHome: string, args: string[], options: CliOptions = {}): Promise<RunResult> {
  return run(process.execPath, ['--import', TSX, CLI_MAIN, ...args], {
    cwd: options.cwd ?? CLI_DIR,
    env: cliEnv(configHome, options),
    ...(options.input !== undefined ? { input: options.input } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  })
}

export async function parleyJson<T>(
  configHome: string,
  args: string[],
  options: CliOptions = {},
): Promise<T> {
  const result = await parley(configHome, [...args, '--json'], options)
  if (result.code !== 0) throw new Error(`parley ${args.join(' ')} exited ${result.code}: ${result.stderr}`)
  return JSON.parse(result.stdout) as T
}

/**
 * `parley` in a pseudo-terminal (util-linux `script`), driven by keystrokes. Output is the
 * terminal's, so it carries the echo of what was typed.
 */
export class PtySession {
  readonly child: ChildProcess
  private buffer = ''
  private readonly exited: Promise<number | null>

  constructor(configHome: string, args: string[], options: CliOptions = {}) {
    const command = [process.execPath, '--import', TSX, CLI_MAIN, ...args].map(shellQuote).join(' ')
    this.child = spawn('script', ['-qfec', `stty cols 120 rows 40; exec ${command}`, '/dev/null'], {
      cwd: options.cwd ?? CLI_DIR,
      env: cliEnv(configHome, options),
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const collect = (chunk: Buffer) => {
      this.buffer += chunk.toString()
    }
    this.child.stdout?.on('data', collect)
    this.child.stderr?.on('data', collect)
    this.exited = new Promise((resolveExit) => this.child.once('close', (code) => resolveExit(code)))
  }

  /** Everything the terminal showed so far, without ANSI escapes and carriage returns. */
  get output(): string {
    return this.buffer.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '')
  }

  get raw(): string {
    return this.buffer
  }

  write(text: string): void {
    this.child.stdin?.write(text)
  }

  /** Waits until the output (from `from` on) matches; returns the match. */
  async waitFor(
    pattern: RegExp,
    options: { timeoutMs?: number; from?: number } = {},
  ): Promise<RegExpExecArray> {
    const deadline = Date.now() + (options.timeoutMs ?? 30_000)
    for (;;) {
      const match = pattern.exec(this.output.slice(options.from ?? 0))
      if (match) return match
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; output:\n${this.output}`)
      if (this.child.exitCode !== null)
        throw new Error(`parley exited waiting for ${pattern}; output:\n${this.output}`)
      await new Promise((resolveWait) => setTimeout(resolveWait, 50))
    }
  }

  /** Resolves with the exit code, killing the session after `timeoutMs`. */
  async exit(timeoutMs = 15_000): Promise<number | null> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs)
    try {
      return await this.exited
    } finally {
      clearTimeout(timer)
    }
  }
}

function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`
}

/** A `parley` process left running, for signals mid-turn. */
export function spawnParley(configHome: string, args: string[], options: CliOptions = {}) {
  const child = spawn(process.execPath, ['--import', TSX, CLI_MAIN, ...args], {
    cwd: options.cwd ?? CLI_DIR,
    env: cliEnv(configHome, options),
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  child.stdin.end(options.input ?? '')
  const done = new Promise<RunResult>((resolveRun) =>
    child.once('close', (code) => resolveRun({ code, stdout, stderr })),
  )
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    done,
    async waitFor(pattern: RegExp, stream: 'stdout' | 'stderr' = 'stdout', timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs
      while (!pattern.test(stream === 'stdout' ? stdout : stderr)) {
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(`waiting for ${pattern}: stdout ${stdout}\nstderr ${stderr}`)
        }
        await new Promise((resolveWait) => setTimeout(resolveWait, 50))
      }
    },
  }
}
