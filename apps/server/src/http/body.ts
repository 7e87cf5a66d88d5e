import type { IncomingMessage } from 'node:http'

export type BodyResult = { ok: true; text: string } | { ok: false; problem: 'too_large' | 'not_utf8' }

/**
 * Reads a whole request body as UTF-8, refusing it once it passes `limit` bytes and when its
 * bytes are not UTF-8: lenient decoding would serve (and store) U+FFFD the client never sent.
 */
export async function readUtf8Body(req: IncomingMessage, limit: number): Promise<BodyResult> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) return { ok: false, problem: 'too_large' }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer)
    size += buffer.length
    if (size > limit) {
      // Discard the rest, so that the client finishes sending and can read the refusal.
      req.resume()
      return { ok: false, problem: 'too_large' }
    }
    chunks.push(buffer)
  }
  try {
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks, size)) }
  } catch {
    return { ok: false, problem: 'not_utf8' }
  }
}
