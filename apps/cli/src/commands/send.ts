import { randomUUID } from 'node:crypto'
import { isParleyClientError } from '@parley/client'
import { isTerminal, type StartedTurn, type TurnEvent } from '@parley/core'
import { stringFlag } from '../args.ts'
import { type CommandContext, printJson, readStdin, titleFrom } from '../context.ts'
import { CliError, EXIT, UsageError } from '../errors.ts'
import { type Sink, TurnPrinter } from '../printer.ts'
import { endOf, followTurn, startTurn, summarize, type TurnSummary } from '../turn.ts'

export const SEND_FLAGS = { conversation: 'string', 'request-id': 'string' } as const

export const SEND_USAGE = `Usage: parley send TEXT|- [--conversation ID] [--request-id ID] [--json]

Sends one message and prints the reply as it streams ('-' reads the message from stdin).
Without --conversation a new conversation is created. --request-id makes a retry safe: the
same id and conversation never run the model twice, they replay the first reply. With --json,
prints one JSON object (with its conversationId) when the turn is over.`

const NULL_SINK: Sink = { write: () => {} }

export async function sendCommand(ctx: CommandContext): Promise<number> {
  const [textArg, ...extra] = ctx.args.positionals
  if (textArg === undefined || extra.length > 0) {
    throw new UsageError('send takes one message (quote it, or pass - to read stdin)')
  }
  const text = textArg === '-' ? await readStdin(ctx.stdin) : textArg
  if (!text.trim()) throw new UsageError('the message is empty')
  const givenRequestId = stringFlag(ctx.args, 'request-id')
  const requestId = givenRequestId ?? randomUUID()
  const givenConversation = stringFlag(ctx.args, 'conversation')
  const conversationId =
    givenConversation ?? (await ctx.client.conversations.create.mutate({ title: titleFrom(text) })).id
  let started: StartedTurn
  try {
    started = await startTurn(() => ctx.client.chat.send.mutate({ requestId, conversationId, input: text }))
  } catch (error) {
    // Refused (a 4xx: no turn was claimed), the conversation made for it would stay empty. After
    // a lost connection the send may have been claimed after all: the conversation stays.
    const refused = isParleyClientError(error) && error.status >= 400 && error.status < 500
    if (givenConversation || !refused) throw error
    await ctx.client.conversations.delete.mutate({ id: conversationId }).catch(() => {})
    if (givenRequestId && isParleyClientError(error) && error.reason === 'idempotency_key_reused') {
      // A retry of a send that made its own conversation is a send to another conversation.
      throw new CliError(
        EXIT.conflict,
        'this request id was already used; to replay that send, pass its --conversation too',
        'idempotency_key_reused',
      )
    }
    throw error
  }
  const summary = await finishTurn(ctx, started)
  if (ctx.json) printJson(ctx, summary)
  return summary.status === 'completed' ? EXIT.ok : EXIT.turnFailed
}

/**
 * Shows a started turn to the end (stdout: the reply; stderr: tool steps and notices) and
 * returns its summary. Ctrl-C cancels the turn; a second Ctrl-C stops waiting.
 */
export async function finishTurn(ctx: CommandContext, started: StartedTurn): Promise<TurnSummary> {
  const printer = new TurnPrinter(
    ctx.json ? NULL_SINK : ctx.stdout,
    ctx.json ? NULL_SINK : ctx.stderr,
    ctx.errStyle,
  )
  const notice = (text: string) => {
    printer.breakLine()
    ctx.stderr.write(`${ctx.errStyle.dim(text)}\n`)
  }

  let summary: TurnSummary
  if (started.replayed && isTerminal(started.turn.status)) {
    // A finished turn replayed: its stored result, nothing to stream.
    const stored = await ctx.client.chat.turn.query({ turnId: started.turn.id })
    summary = summarize(started, stored, '')
    if (!ctx.json) printer.append(summary.text)
  } else {
    let interrupts = 0
    const onSigint = () => {
      interrupts += 1
      if (interrupts > 1) process.exit(130)
      notice('cancelling… (Ctrl-C again to stop waiting)')
      ctx.client.chat.cancel.mutate({ turnId: started.turn.id }).catch(() => {})
    }
    process.on('SIGINT', onSigint)
    let terminal: TurnEvent
    try {
      terminal = await followTurn(ctx.client, started.turn.id, {
        onEvent: (event) => printer.event(event),
        onConnectionLost: () => notice('connection lost, reconnecting…'),
        onResumed: () => notice('reconnected, resuming…'),
      })
    } finally {
      process.off('SIGINT', onSigint)
    }
    summary = summarize(started, endOf(started, terminal), printer.text)
  }
  printer.end()
  if (!ctx.json && summary.status !== 'completed') {
    const what = summary.status === 'failed' ? 'failed' : `was ${summary.status}`
    const why = summary.status === 'failed' && summary.error ? `: ${summary.error.message}` : ''
    ctx.stderr.write(`${ctx.errStyle.red(`the turn ${what}${why}`)}\n`)
  }
  return summary
}
