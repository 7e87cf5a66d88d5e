import { type ChildProcess, spawn } from 'node:child_process'

const SERVER_DIR = new URL('../..', import.meta.url).pathname

export interface ServerProcess {
  url: string
  child: ChildProcess
  /** Everything the process wrote so far (stdout and stderr). */
  output(): string
  /** SIGKILL: no shutdown hook, no flush, no lease release. */
  kill9(): Promise<void>
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>
}

/** Runs the real entry point (`src/main.ts`) on a free port with `env` on top of a clean environment. */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(PORT|HOST|DATABASE_URL|PARLEY_|OPENAI_)/.test(key)),
  )
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: SERVER_DIR,
    env: { ...base, INIT_CWD: SERVER_DIR, PORT: '0', HOST: '127.0.0.1', PARLEY_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 60_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const found = /Parley is running on (\S+)/.exec(output)
      if (found?.[1]) {
        clearTimeout(timer)
        resolve(found[1])
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code}:\n${output}`))
    })
  })
  return {
    url,
    child,
    output: () => output,
    async kill9() {
      child.kill('SIGKILL')
      await exited
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited
    },
  }
}
