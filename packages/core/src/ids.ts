const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** Server-minted ids: `<prefix>_<24 random base62 chars>` (~143 bits). Works in Node and browsers. */
export function newId(prefix: 'conv' | 'resp' | 'item' | 'user' | 'key' | 'call' | 'req'): string {
  const bytes = new Uint8Array(24)
  globalThis.crypto.getRandomValues(bytes)
  let out = `${prefix}_`
  for (const byte of bytes) out += ALPHABET[byte % 62]
  return out
}
