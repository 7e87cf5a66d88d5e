import { UsageError } from './errors.ts'

/** Flags every command understands. */
export const GLOBAL_FLAGS = {
  url: 'string',
  'api-key': 'string',
  transport: 'string',
  json: 'boolean',
  help: 'boolean',
} as const

export type FlagSpec = Record<string, 'string' | 'boolean'>

export interface ParsedArgs {
  positionals: string[]
  flags: Record<string, string | boolean>
}

/**
 * A small argv parser: `--flag value`, `--flag=value`, boolean `--flag`, `-h`, and `--` to end
 * flags. A lone `-` is a positional (stdin). Unknown flags are usage errors, so a typo never
 * silently turns into message text.
 */
export function parseArgs(argv: string[], spec: FlagSpec): ParsedArgs {
  const known: FlagSpec = { ...GLOBAL_FLAGS, ...spec }
  const positionals: string[] = []
  const flags: Record<string, string | boolean> = {}
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index]!
    if (arg === '--') {
      positionals.push(...argv.slice(index + 1))
      break
    }
    if (arg === '-h') {
      flags['help'] = true
      continue
    }
    if (!arg.startsWith('--') || arg === '-') {
      positionals.push(arg)
      continue
    }
    const eq = arg.indexOf('=')
    const name = arg.slice(2, eq === -1 ? undefined : eq)
    const kind = known[name]
    if (!kind) throw new UsageError(`unknown option --${name}`)
    if (kind === 'boolean') {
      if (eq !== -1) throw new UsageError(`option --${name} takes no value`)
      flags[name] = true
      continue
    }
    const value = eq === -1 ? argv[++index] : arg.slice(eq + 1)
    if (value === undefined || (eq === -1 && value.startsWith('--'))) {
      throw new UsageError(`option --${name} needs a value`)
    }
    flags[name] = value
  }
  return { positionals, flags }
}

export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const value = args.flags[name]
  return typeof value === 'string' ? value : undefined
}

export function booleanFlag(args: ParsedArgs, name: string): boolean {
  return args.flags[name] === true
}

export function oneOf<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  name: string,
): T | undefined {
  if (value === undefined) return undefined
  if ((allowed as readonly string[]).includes(value)) return value as T
  throw new UsageError(`--${name} must be one of ${allowed.join(', ')}`)
}

export function positiveInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined
  const number = Number(value)
  if (!Number.isSafeInteger(number) || number < 1)
    throw new UsageError(`--${name} must be a positive integer`)
  return number
}
