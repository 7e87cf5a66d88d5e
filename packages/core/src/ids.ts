const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

const ID_CHARS = 24
/**
 * Random bytes fetched a few kilobytes at a time: one call per id costs more than the id.
 * Web Crypto rather than node:crypto, because the web app's bundle includes this module.
 */
const pool = new Uint8Array(ID_CHARS * 256)
let used = pool.length

/** Server-minted ids: `<prefix>_<24 random base62 chars>` (~143 bits). */
export function newId(prefix: 'conv' | 'resp' | 'item' | 'user' | 'key' | 'call' | 'req'): string {
  if (used + ID_CHARS > pool.length) {
    globalThis.crypto.getRandomValues(pool)
    used = 0
  }
  let out = `${prefix}_`
  for (let i = used; i < used + ID_CHARS; i++) out += ALPHABET[(pool[i] ?? 0) % 62]
  used += ID_CHARS
  return out
}
