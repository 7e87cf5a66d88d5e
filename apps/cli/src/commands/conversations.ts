import type { Conversation } from '@parley/core'
import { messageText } from '@parley/core'
import { positiveInt, stringFlag } from '../args.ts'
import { type CommandContext, printJson } from '../context.ts'
import { EXIT, UsageError } from '../errors.ts'
import { renderMarkdown } from '../markdown.ts'

export const CONVERSATIONS_FLAGS = { limit: 'string', search: 'string' } as const

export const CONVERSATIONS_USAGE = `Usage: parley conversations list [--limit N] [--search TEXT] [--json]
       parley conversations show ID [--json]
       parley conversations rename ID TITLE [--json]
       parley conversations delete ID [--json]`

export async function conversationsCommand(ctx: CommandContext): Promise<number> {
  const [action, ...rest] = ctx.args.positionals
  switch (action) {
    case 'list':
      expectArgs(rest, 0, 'list')
      return list(ctx)
    case 'show':
      expectArgs(rest, 1, 'show ID')
      return show(ctx, rest[0]!)
    case 'rename': {
      if (rest.length < 2) throw new UsageError('usage: parley conversations rename ID TITLE')
      const [id, ...words] = rest
      const conversation = await ctx.client.conversations.update.mutate({ id: id!, title: words.join(' ') })
      if (ctx.json) printJson(ctx, conversation)
      else ctx.stdout.write(`Renamed ${conversation.id} to “${conversation.title}”\n`)
      return EXIT.ok
    }
    case 'delete': {
      expectArgs(rest, 1, 'delete ID')
      const result = await ctx.client.conversations.delete.mutate({ id: rest[0]! })
      if (ctx.json) printJson(ctx, result)
      else ctx.stdout.write(`Deleted ${result.id}\n`)
      return EXIT.ok
    }
    default:
      throw new UsageError(
        action ? `unknown conversations action '${action}'` : 'conversations needs an action',
      )
  }
}

function expectArgs(rest: string[], count: number, usage: string): void {
  if (rest.length !== count) throw new UsageError(`usage: parley conversations ${usage}`)
}

/** Newest first, following pages up to --limit (default 50). */
async function list(ctx: CommandContext): Promise<number> {
  const limit = positiveInt(stringFlag(ctx.args, 'limit'), 'limit') ?? 50
  const search = stringFlag(ctx.args, 'search')
  const conversations: Conversation[] = []
  let cursor: string | undefined
  let nextCursor: string | null = null
  do {
    const page = await ctx.client.conversations.list.query({
      limit: Math.min(200, limit - conversations.length),
      ...(cursor ? { cursor } : {}),
      ...(search ? { search } : {}),
    })
    conversations.push(...page.data)
    nextCursor = page.nextCursor
    cursor = page.nextCursor ?? undefined
  } while (cursor && conversations.length < limit)
  if (ctx.json) {
    printJson(ctx, { conversations, nextCursor })
    return EXIT.ok
  }
  if (conversations.length === 0) {
    ctx.stdout.write(ctx.style.dim('No conversations yet.\n'))
    return EXIT.ok
  }
  for (const conversation of conversations) {
    const when = conversation.updatedAt.slice(0, 16).replace('T', ' ')
    ctx.stdout.write(
      `${ctx.style.cyan(conversation.id)}  ${ctx.style.dim(when)}  ${conversation.title || '(untitled)'}\n`,
    )
  }
  return EXIT.ok
}

async function show(ctx: CommandContext, id: string): Promise<number> {
  const conversation = await ctx.client.conversations.get.query({ id })
  const turns = []
  let cursor: string | undefined
  do {
    const page = await ctx.client.messages.list.query({
      conversationId: id,
      limit: 200,
      ...(cursor ? { cursor } : {}),
    })
    turns.push(...page.data)
    cursor = page.nextCursor ?? undefined
  } while (cursor)
  if (ctx.json) {
    printJson(ctx, {
      conversation,
      turns: turns.map(({ turn, input, output }) => ({
        id: turn.id,
        status: turn.status,
        model: turn.model,
        createdAt: turn.createdAt,
        usage: turn.usage,
        input,
        output,
      })),
    })
    return EXIT.ok
  }
  const style = ctx.style
  ctx.stdout.write(`${style.bold(conversation.title || '(untitled)')}  ${style.dim(conversation.id)}\n`)
  for (const { turn, input, output } of turns) {
    for (const item of [...input, ...output]) {
      if (item.type === 'message') {
        const who = item.role === 'user' ? style.green('you') : style.magenta(item.role)
        ctx.stdout.write(`\n${who}\n${renderMarkdown(messageText(item), style)}\n`)
      } else if (item.type === 'function_call') {
        ctx.stdout.write(`${style.yellow('⚙')} ${style.bold(item.name)}${style.dim(`(${item.arguments})`)}\n`)
      } else if (item.type === 'function_call_output') {
        const mark = item.is_error ? style.red('✗') : style.green('✓')
        ctx.stdout.write(`${mark} ${item.output}\n`)
      }
    }
    if (turn.status !== 'completed') ctx.stdout.write(style.dim(`(${turn.status})\n`))
  }
  return EXIT.ok
}
