import type { ParleyClient } from '@parley/client'
import { shortened } from '@parley/core'
import type { ParsedArgs } from './args.ts'
import type { CliConfig } from './config.ts'
import type { Style } from './style.ts'

/** What every command gets. */
export interface CommandContext {
  config: CliConfig
  client: ParleyClient
  args: ParsedArgs
  json: boolean
  env: NodeJS.ProcessEnv
  stdin: NodeJS.ReadStream
  stdout: NodeJS.WriteStream
  stderr: NodeJS.WriteStream
  /** Styling for stdout and for stderr (each on only for its own terminal). */
  style: Style
  errStyle: Style
}

export function printJson(ctx: CommandContext, value: unknown): void {
  ctx.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

export async function readStdin(stdin: NodeJS.ReadStream): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  return Buffer.concat(chunks).toString('utf8')
}

/** A conversation title from the first words of a message. */
export function titleFrom(text: string): string {
  const line = text.trim().split('\n')[0]!.replace(/\s+/g, ' ')
  return shortened(line, 60) || 'New conversation'
}
