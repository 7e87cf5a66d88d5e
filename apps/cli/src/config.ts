import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { type ParsedArgs, stringFlag } from './args.ts'
import { UsageError } from './errors.ts'

export type Transport = 'ws' | 'sse'

export interface CliConfig {
  url: string
  apiKey: string | undefined
  transport: Transport
  /** Where the user ran `parley`: FILE arguments are relative to it (pnpm changes the cwd). */
  cwd: string
}

export const DEFAULT_URL = 'http://127.0.0.1:3000'

/** `$XDG_CONFIG_HOME/parley/config.json`, else `~/.config/parley/config.json`. */
export function configFilePath(env: NodeJS.ProcessEnv): string {
  const base = env['XDG_CONFIG_HOME'] || join(env['HOME'] || homedir(), '.config')
  return join(base, 'parley', 'config.json')
}

interface FileConfig {
  url?: string
  apiKey?: string
  transport?: string
}

function readConfigFile(path: string): FileConfig {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw new UsageError(`cannot read the config file ${path}`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new UsageError(`the config file ${path} is not valid JSON`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError(`the config file ${path} must hold a JSON object`)
  }
  const config: FileConfig = {}
  for (const key of ['url', 'apiKey', 'transport'] as const) {
    const entry = (value as Record<string, unknown>)[key]
    if (entry === undefined) continue
    if (typeof entry !== 'string')
      throw new UsageError(`"${key}" in the config file ${path} must be a string`)
    config[key] = entry
  }
  return config
}

/**
 * `pnpm parley …` runs this script inside apps/cli; pnpm passes the caller's directory as
 * INIT_CWD. Only trusted under our own script: a stale INIT_CWD from some outer script would
 * send relative paths elsewhere.
 */
function callerDirectory(env: NodeJS.ProcessEnv): string {
  const init = env['INIT_CWD']
  return resolve(init && env['npm_lifecycle_event'] === 'parley' ? init : process.cwd())
}

/** Flags over environment over the config file. */
export function resolveConfig(args: ParsedArgs, env: NodeJS.ProcessEnv): CliConfig {
  const file = readConfigFile(configFilePath(env))
  const url = stringFlag(args, 'url') ?? (env['PARLEY_URL'] || undefined) ?? file.url ?? DEFAULT_URL
  const apiKey = stringFlag(args, 'api-key') ?? (env['PARLEY_API_KEY'] || undefined) ?? file.apiKey
  const transport =
    stringFlag(args, 'transport') ?? (env['PARLEY_TRANSPORT'] || undefined) ?? file.transport ?? 'ws'
  if (transport !== 'ws' && transport !== 'sse') throw new UsageError('the transport must be ws or sse')
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new UsageError(`not a valid server URL: ${url}`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(`the server URL must start with http:// or https:// (got ${url})`)
  }
  return {
    url: url.replace(/\/+$/, ''),
    apiKey,
    transport,
    cwd: callerDirectory(env),
  }
}
