import { createParleyClient } from '@parley/client'
import { type FlagSpec, type ParsedArgs, parseArgs } from './args.ts'
import { CHAT_FLAGS, CHAT_USAGE, chatCommand } from './commands/chat.ts'
import { CONVERSATIONS_FLAGS, CONVERSATIONS_USAGE, conversationsCommand } from './commands/conversations.ts'
import { EXPORT_FLAGS, EXPORT_USAGE, exportCommand } from './commands/export.ts'
import { IMPORT_FLAGS, IMPORT_USAGE, importCommand } from './commands/import.ts'
import { SEND_FLAGS, SEND_USAGE, sendCommand } from './commands/send.ts'
import { type CliConfig, DEFAULT_URL, resolveConfig } from './config.ts'
import type { CommandContext } from './context.ts'
import { CliError, EXIT, toCliError, UsageError } from './errors.ts'
import { colorEnabled, createStyle } from './style.ts'

const USAGE = `Usage: parley <command> [options]

Commands:
  chat [--conversation ID]                       interactive chat
  send TEXT|- [--conversation ID] [--request-id ID] [--json]
                                                 send one message, print the reply
  conversations list|show ID|rename ID TITLE|delete ID [--json]
  import FILE [--format legacy|chatgpt|parley]   import conversations
  export [--conversation ID] [--format json|markdown] [--output FILE]

Options (every command):
  --url URL          server (env PARLEY_URL, config file; default ${DEFAULT_URL})
  --api-key KEY      API key (env PARLEY_API_KEY, config file)
  --transport ws|sse how replies stream (env PARLEY_TRANSPORT; default ws)
  --json             machine-readable output (send, conversations, import)
  -h, --help         help for a command

Config file: $XDG_CONFIG_HOME/parley/config.json or ~/.config/parley/config.json
  { "url": "…", "apiKey": "…", "transport": "ws" }   (flags > env > file)

Exit codes: 0 ok, 1 turn failed/cancelled/interrupted, 2 usage or invalid input,
  3 authentication, 4 not found, 5 server or connection, 6 conflict.`

interface CommandDef {
  flags: FlagSpec
  usage: string
  run: (ctx: CommandContext) => Promise<number>
}

const COMMANDS: Record<string, CommandDef> = {
  chat: { flags: CHAT_FLAGS, usage: CHAT_USAGE, run: chatCommand },
  send: { flags: SEND_FLAGS, usage: SEND_USAGE, run: sendCommand },
  conversations: { flags: CONVERSATIONS_FLAGS, usage: CONVERSATIONS_USAGE, run: conversationsCommand },
  import: { flags: IMPORT_FLAGS, usage: IMPORT_USAGE, run: importCommand },
  export: { flags: EXPORT_FLAGS, usage: EXPORT_USAGE, run: exportCommand },
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`)
    return name ? EXIT.ok : EXIT.usage
  }
  const command = COMMANDS[name]
  if (!command) throw new UsageError(`unknown command '${name}' (try parley --help)`)
  const args: ParsedArgs = parseArgs(rest, command.flags)
  if (args.flags['help']) {
    process.stdout.write(`${command.usage}\n`)
    return EXIT.ok
  }
  const config: CliConfig = resolveConfig(args, process.env)
  const client = createParleyClient({
    url: config.url,
    transport: config.transport,
    ...(config.apiKey ? { apiKey: config.apiKey } : {}),
  })
  try {
    return await command.run({
      config,
      client,
      args,
      json: args.flags['json'] === true,
      env: process.env,
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
      style: createStyle(colorEnabled(process.stdout, process.env)),
      errStyle: createStyle(colorEnabled(process.stderr, process.env)),
    })
  } catch (error) {
    throw toCliError(error, config.url)
  } finally {
    client.close()
  }
}

/** Waits until what was written to a stream has been handed to the OS. */
function flush(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()))
}

// A reader that stops early (`parley conversations list | head -1`) closes the pipe: the command
// ends quietly there, as other command-line tools do, instead of dying on the write error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error
  process.exit(EXIT.ok)
})

let code: number
try {
  code = await main(process.argv.slice(2))
} catch (error) {
  const failure =
    error instanceof CliError ? error : toCliError(error, process.env['PARLEY_URL'] ?? DEFAULT_URL)
  process.stderr.write(`parley: ${failure.message}\n`)
  if (failure.exitCode === EXIT.usage && failure.reason === 'usage') {
    process.stderr.write('Run parley --help for usage.\n')
  }
  code = failure.exitCode
}
await Promise.all([flush(process.stdout), flush(process.stderr)])
// Open sockets (a lazily closed WebSocket, keep-alive HTTP) must not keep a finished command alive.
process.exit(code)
