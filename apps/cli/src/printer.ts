import type { TurnEvent } from '@parley/core'
import { MarkdownRenderer } from './markdown.ts'
import { type Style, visibleLength } from './style.ts'

export interface Sink {
  write(text: string): void
  /** Terminal width in columns, when it is a terminal. */
  columns?: number | undefined
}

/**
 * Shows a turn as it streams: reply text on `out` (markdown rendered line by line on a
 * terminal), tool calls as steps on `steps` (name, arguments, then result and duration).
 *
 * On a terminal a line is first shown raw as its tokens arrive, then redrawn rendered once it
 * is complete: the user sees the reply grow and still gets formatting.
 */
export class TurnPrinter {
  /** Everything the model said, raw. */
  text = ''
  private line = ''
  private atLineStart = true
  private readonly markdown: MarkdownRenderer
  private readonly calls = new Map<string, { name: string; args: string }>()

  constructor(
    private readonly out: Sink,
    private readonly steps: Sink,
    private readonly style: Style,
    private readonly indent = '',
  ) {
    this.markdown = new MarkdownRenderer(style)
  }

  event(event: TurnEvent): void {
    switch (event.type) {
      case 'text.delta':
        this.append(event.delta)
        return
      case 'tool.call': {
        this.calls.set(event.callId, { name: event.name, args: event.arguments })
        this.breakLine()
        const args = oneLine(event.arguments, 200)
        this.steps.write(
          `${this.indent}${this.style.yellow('⚙')} ${this.style.bold(event.name)}${this.style.dim(`(${args})`)}\n`,
        )
        return
      }
      case 'tool.result': {
        this.breakLine()
        const mark = event.isError ? this.style.red('✗') : this.style.green('✓')
        const output = oneLine(event.output, 200)
        const took = this.style.dim(`(${event.durationMs} ms)`)
        this.steps.write(
          `${this.indent}${mark} ${event.name} → ${event.isError ? this.style.red(output) : output} ${took}\n`,
        )
        return
      }
      case 'item.completed':
        // Separate consecutive assistant messages (e.g. before and after a tool step).
        if (event.item.type === 'message') this.breakLine()
        return
      default:
        return
    }
  }

  /** Writes what is left of the last line; call once the turn is over. */
  end(): void {
    this.breakLine()
  }

  /** Moves to a fresh line if text is pending (before printing something else). */
  breakLine(): void {
    if (this.line) {
      this.completeLine()
      this.out.write('\n')
    }
    this.atLineStart = true
  }

  /** Reply text, as it arrives. */
  append(delta: string): void {
    this.text += delta
    const pieces = delta.split('\n')
    pieces.forEach((piece, index) => {
      if (index > 0) {
        this.completeLine()
        this.out.write('\n')
        this.atLineStart = true
      }
      if (!piece) return
      if (this.atLineStart) {
        this.out.write(this.indent)
        this.atLineStart = false
      }
      this.line += piece
      this.out.write(this.style.enabled && this.markdown.insideCode ? this.style.cyan(piece) : piece)
    })
  }

  /** Redraws the finished raw line rendered (terminal only). */
  private completeLine(): void {
    const raw = this.line
    this.line = ''
    if (!this.style.enabled) {
      this.markdown.line(raw)
      return
    }
    const rendered = this.markdown.line(raw)
    if (rendered === raw) return
    // A terminal without a size reports 0 columns.
    const width = this.out.columns || 80
    const rows = Math.max(1, Math.ceil(visibleLength(this.indent + raw) / width))
    // Back to the start of the raw line (it may have wrapped), clear, draw it rendered.
    const up = rows > 1 ? `\x1b[${rows - 1}A` : ''
    this.out.write(`${up}\r\x1b[J${this.indent}${rendered}`)
  }
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s*\n\s*/g, ' ')
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}
