import { randomUUID } from 'node:crypto'
import { createInterface, type Interface } from 'node:readline'
import type { Conversation, StartedTurn, TurnStatus } from '@parley/core'
import { stringFlag } from '../args.ts'
import { type CommandContext, titleFrom } from '../context.ts'
import { EXIT, toCliError } from '../errors.ts'
import { TurnPrinter } from '../printer.ts'
import { endOf, followTurn, startTurn, summarize } from '../turn.ts'

export const CHAT_FLAGS = { conversation: 'string' } as const

export const CHAT_USAGE = `Usage: parley chat [--conversation ID]

An interactive chat. Replies stream as they come; Ctrl-C cancels a running reply, a second
Ctrl-C (or Ctrl-C at the prompt) exits. Type /help for the commands.`

const HELP = `Commands:
  /new [TITLE]     start a new conversation
  /list            list your conversations
  /switch ID       continue another conversation
  /title TEXT      rename this conversation
  /regenerate      ask for another reply to the last message
  /help            this list
  /exit            leave (Ctrl-D works too)`

const STATUS_NOTES: Partial<Record<TurnStatus, string>> = {
  cancelled: 'cancelled — what arrived so far is kept',
  interrupted: 'interrupted — the server stopped while replying; /regenerate asks again',
}

interface RunningTurn {
  /** Null until the send was accepted. */
  turnId: string | null
  cancelling: boolean
  printer: TurnPrinter | null
}

/** One chat session: the current conversation, the running turn, the prompt. */
class ChatSession {
  private conversation: Conversation | null = null
  private running: RunningTurn | null = null
  private waitingForLine: ((line: string | null) => void) | null = null
  /** Lines that arrived while no prompt waited (typed ahead, or piped in): taken in order. */
  private readonly typedAhead: string[] = []
  private closed = false
  private readonly rl: Interface

  constructor(private readonly ctx: CommandContext) {
    this.rl = createInterface({
      input: ctx.stdin,
      output: ctx.stdout,
      terminal: ctx.stdin.isTTY === true && ctx.stdout.isTTY === true,
      prompt: `${ctx.style.green('you ›')} `,
      historySize: 200,
    })
    this.rl.on('line', (line) => {
      const resolve = this.waitingForLine
      this.waitingForLine = null
      if (resolve) resolve(line)
      else this.typedAhead.push(line)
    })
    this.rl.on('close', () => {
      this.closed = true
      this.waitingForLine?.(null)
    })
    // In terminal mode readline reports Ctrl-C itself; otherwise it arrives as a signal.
    this.rl.on('SIGINT', () => this.interrupt())
    process.on('SIGINT', () => this.interrupt())
  }

  private say(text: string): void {
    this.ctx.stdout.write(`${text}\n`)
  }

  private note(text: string): void {
    this.say(this.ctx.style.dim(text))
  }

  private interrupt(): void {
    const running = this.running
    if (!running) {
      this.ctx.stdout.write('\n')
      this.rl.close()
      return
    }
    if (running.cancelling || !running.turnId) process.exit(130)
    running.cancelling = true
    if (running.printer) running.printer.breakLine()
    else this.ctx.stdout.write('\n')
    this.note('cancelling… (Ctrl-C again to exit)')
    this.ctx.client.chat.cancel.mutate({ turnId: running.turnId }).catch((error: unknown) => {
      this.say(this.ctx.style.red(`could not cancel: ${toCliError(error, this.ctx.config.url).message}`))
    })
  }

  private nextLine(): Promise<string | null> {
    const ahead = this.typedAhead.shift()
    if (ahead !== undefined) return Promise.resolve(ahead)
    if (this.closed) return Promise.resolve(null)
    this.rl.prompt()
    return new Promise((resolve) => {
      this.waitingForLine = resolve
    })
  }

  async run(conversationId: string | undefined): Promise<number> {
    const health = await this.ctx.client.health.check.query()
    // Either call needs a valid key: a wrong one ends the command here, with its exit code.
    if (conversationId) {
      this.conversation = await this.ctx.client.conversations.get.query({ id: conversationId })
    } else {
      await this.ctx.client.conversations.list.query({ limit: 1 })
    }
    const style = this.ctx.style
    this.say(
      `${style.bold('Parley')} ${style.dim(`· ${this.ctx.config.url} · ${health.provider}/${health.model}`)}`,
    )
    this.note(
      this.conversation
        ? `Continuing “${this.conversation.title}” (${this.conversation.id}). /help lists the commands.`
        : 'A new conversation starts with your first message. /help lists the commands.',
    )
    for (;;) {
      const line = await this.nextLine()
      if (line === null) break
      const text = line.trim()
      if (!text) continue
      try {
        if (text.startsWith('/')) {
          if (!(await this.command(text))) break
        } else {
          await this.send(text)
        }
      } catch (error) {
        this.running = null
        this.ctx.stderr.write(`${this.ctx.errStyle.red(toCliError(error, this.ctx.config.url).message)}\n`)
      }
    }
    this.rl.close()
    return EXIT.ok
  }

  /** Runs a slash command; false means leave. */
  private async command(text: string): Promise<boolean> {
    const [name, ...words] = text.split(/\s+/)
    const rest = words.join(' ')
    const client = this.ctx.client
    const style = this.ctx.style
    switch (name) {
      case '/exit':
      case '/quit':
        return false
      case '/help':
        this.say(HELP)
        return true
      case '/new':
        this.conversation = await client.conversations.create.mutate(rest ? { title: rest } : {})
        this.note(`New conversation ${this.conversation.id}${rest ? ` “${rest}”` : ''}.`)
        return true
      case '/list': {
        const page = await client.conversations.list.query({ limit: 20 })
        if (page.data.length === 0) this.note('No conversations yet.')
        for (const conversation of page.data) {
          const mark = conversation.id === this.conversation?.id ? style.green('*') : ' '
          this.say(`${mark} ${style.cyan(conversation.id)}  ${conversation.title || '(untitled)'}`)
        }
        return true
      }
      case '/switch':
        if (!rest) {
          this.note('Usage: /switch ID')
          return true
        }
        this.conversation = await client.conversations.get.query({ id: rest })
        this.note(`Switched to “${this.conversation.title}” (${this.conversation.id}).`)
        return true
      case '/title':
        if (!this.conversation || !rest) {
          this.note(this.conversation ? 'Usage: /title TEXT' : 'No conversation yet: send a message first.')
          return true
        }
        this.conversation = await client.conversations.update.mutate({
          id: this.conversation.id,
          title: rest,
        })
        this.note(`Renamed to “${this.conversation.title}”.`)
        return true
      case '/regenerate': {
        const head = this.conversation
          ? (await client.conversations.get.query({ id: this.conversation.id })).headTurnId
          : null
        if (!head) {
          this.note('Nothing to regenerate yet.')
          return true
        }
        await this.runTurn(() => client.chat.regenerate.mutate({ requestId: randomUUID(), turnId: head }))
        return true
      }
      default:
        this.note(`Unknown command ${name}. /help lists the commands.`)
        return true
    }
  }

  private async send(text: string): Promise<void> {
    if (!this.conversation) {
      this.conversation = await this.ctx.client.conversations.create.mutate({ title: titleFrom(text) })
    }
    const conversationId = this.conversation.id
    // One request id per message, reused by every retry: a retry never runs the model twice.
    const requestId = randomUUID()
    await this.runTurn(() => this.ctx.client.chat.send.mutate({ requestId, conversationId, input: text }))
  }

  private async runTurn(start: () => Promise<StartedTurn>): Promise<void> {
    const ctx = this.ctx
    const style = ctx.style
    const running: RunningTurn = { turnId: null, cancelling: false, printer: null }
    this.running = running
    const started = await startTurn(start)
    const sink = {
      write: (text: string) => ctx.stdout.write(text),
      get columns() {
        return ctx.stdout.columns
      },
    }
    const printer = new TurnPrinter(sink, sink, style)
    running.turnId = started.turn.id
    running.printer = printer
    const notice = (text: string) => {
      printer.breakLine()
      this.note(text)
    }
    try {
      const terminal = await followTurn(ctx.client, started.turn.id, {
        onEvent: (event) => printer.event(event),
        onConnectionLost: () => notice('connection lost, reconnecting…'),
        onResumed: () => notice('reconnected, resuming…'),
      })
      printer.end()
      const summary = summarize(started, endOf(started, terminal), printer.text)
      if (!printer.text && summary.text) this.say(summary.text)
      const usage = summary.usage ? ` · ${summary.usage.totalTokens} tokens` : ''
      if (summary.status === 'completed') {
        this.note(`${summary.replayed ? 'replayed' : 'done'}${usage}`)
      } else if (summary.status === 'failed') {
        this.say(style.red(`failed — ${summary.error?.message ?? 'unknown error'}`))
      } else {
        this.say(style.yellow(STATUS_NOTES[summary.status] ?? summary.status))
      }
    } finally {
      this.running = null
    }
  }
}

export async function chatCommand(ctx: CommandContext): Promise<number> {
  return new ChatSession(ctx).run(stringFlag(ctx.args, 'conversation'))
}
