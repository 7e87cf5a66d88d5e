import { type ImportFormat, PayloadTooLargeError, parseImportFile, ValidationError } from '@parley/core'
import type { TRPCRouterRecord } from '@trpc/server'
import { octetInputParser } from '@trpc/server/http'
import { protectedProcedure } from './trpc.ts'

/** The largest file one import accepts; `parley import` refuses bigger files before uploading. */
export const IMPORT_MAX_BYTES = 50 * 1024 * 1024

export interface ImportedConversation {
  id: string
  externalId: string
  title: string
  status: 'imported' | 'skipped'
  turns: number
}

export interface ImportSummary {
  format: ImportFormat
  imported: number
  skipped: number
  conversations: ImportedConversation[]
}

/** Reads the upload, refusing it as soon as it passes the limit (not after buffering it all). */
async function readText(body: ReadableStream<Uint8Array>, limit: number): Promise<string> {
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > limit) throw new PayloadTooLargeError(`an import file may have at most ${limit} bytes`)
      chunks.push(value)
    }
  } finally {
    reader.releaseLock()
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks))
  } catch {
    throw new ValidationError([{ path: '', message: 'not UTF-8 text' }], 'The file is not UTF-8 text')
  }
}

export const importsRouter = {
  /**
   * The file is the request body (binary, `application/octet-stream`); its format — a legacy
   * chat file, a ChatGPT `conversations.json` or a Parley export — is detected from the content.
   * The whole file is parsed and validated before the first write, so a corrupt file writes
   * nothing. Each conversation is imported idempotently by its externalId: importing the same
   * file again reports every conversation as skipped.
   */
  run: protectedProcedure.input(octetInputParser).mutation(async ({ ctx, input }): Promise<ImportSummary> => {
    const text = await readText(input, IMPORT_MAX_BYTES)
    const { format, conversations } = parseImportFile(text)
    const summary: ImportSummary = { format, imported: 0, skipped: 0, conversations: [] }
    for (const conversation of conversations) {
      const result = await ctx.stores.conversations.importConversation(ctx.userId, conversation)
      summary[result.status] += 1
      summary.conversations.push({
        id: result.conversation.id,
        externalId: conversation.externalId,
        title: result.conversation.title,
        status: result.status,
        turns: conversation.turns.length,
      })
    }
    ctx.log.info(
      { format, imported: summary.imported, skipped: summary.skipped, bytes: text.length },
      'import finished',
    )
    return summary
  }),
} satisfies TRPCRouterRecord
