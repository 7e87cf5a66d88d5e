import type { Style } from './style.ts'

/**
 * A Blob that reports how many of its bytes have been read. fetch reads a Blob body through
 * `stream()` as it sends it, so this counts bytes handed to the connection: upload progress
 * without changing the client's links.
 */
export class ProgressBlob extends Blob {
  readonly #inner: Blob
  readonly #onProgress: (sent: number, total: number) => void

  constructor(inner: Blob, onProgress: (sent: number, total: number) => void) {
    super([], { type: 'application/octet-stream' })
    this.#inner = inner
    this.#onProgress = onProgress
    // fetch sends `size` as the Content-Length.
    Object.defineProperty(this, 'size', { get: () => inner.size })
  }

  override stream(): ReadableStream<Uint8Array> {
    let sent = 0
    const total = this.#inner.size
    const onProgress = this.#onProgress
    return this.#inner.stream().pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          sent += chunk.byteLength
          onProgress(sent, total)
          controller.enqueue(chunk)
        },
      }),
    )
  }

  override arrayBuffer(): Promise<ArrayBuffer> {
    return this.#inner.arrayBuffer()
  }

  override slice(start?: number, end?: number, contentType?: string): Blob {
    return this.#inner.slice(start, end, contentType)
  }

  override text(): Promise<string> {
    return this.#inner.text()
  }
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1)
}

/** A one-line bar on a terminal, redrawn in place at most every 100 ms. */
export function progressBar(stream: NodeJS.WriteStream, style: Style, label: string) {
  let lastDraw = 0
  let drawn = false
  const draw = (sent: number, total: number) => {
    const ratio = total === 0 ? 1 : Math.min(1, sent / total)
    const width = 30
    const full = Math.round(ratio * width)
    const bar = `${style.green('█'.repeat(full))}${style.dim('░'.repeat(width - full))}`
    stream.write(
      `\r\x1b[2K${label} ${bar} ${String(Math.floor(ratio * 100)).padStart(3)}% ${mib(sent)}/${mib(total)} MiB`,
    )
    drawn = true
  }
  return {
    update(sent: number, total: number) {
      const now = Date.now()
      if (sent < total && now - lastDraw < 100) return
      lastDraw = now
      draw(sent, total)
    },
    done() {
      if (drawn) stream.write('\n')
    },
  }
}
