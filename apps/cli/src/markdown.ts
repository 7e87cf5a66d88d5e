import type { Style } from './style.ts'

/**
 * Markdown for the terminal, one line at a time so a streamed reply can be rendered as its
 * lines complete: headings, bold, italic, inline code, fenced code blocks, bullet and numbered
 * lists, quotes and rules. Without colors it returns the text unchanged.
 */
export class MarkdownRenderer {
  private inCode = false
  private fence = ''

  constructor(private readonly style: Style) {}

  /** Renders one complete line (without its newline). */
  line(text: string): string {
    const style = this.style
    if (!style.enabled) return text
    const fence = /^\s*(`{3,}|~{3,})\s*([\w+-]*)\s*$/.exec(text)
    if (fence && (!this.inCode || fence[1]!.startsWith(this.fence))) {
      if (this.inCode) {
        this.inCode = false
        return style.dim('└─')
      }
      this.inCode = true
      this.fence = fence[1]![0]!.repeat(3)
      return style.dim(`┌─${fence[2] ? ` ${fence[2]}` : ''}`)
    }
    if (this.inCode) return `${style.dim('│')} ${style.cyan(text)}`

    const heading = /^(#{1,6})\s+(.*)$/.exec(text)
    if (heading) return style.bold(style.magenta(this.inline(heading[2]!)))
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(text)) return style.dim('─'.repeat(40))
    const quote = /^>\s?(.*)$/.exec(text)
    if (quote) return `${style.dim('│')} ${style.italic(this.inline(quote[1]!))}`
    const bullet = /^(\s*)[-*+]\s+(.*)$/.exec(text)
    if (bullet) return `${bullet[1]}${style.yellow('•')} ${this.inline(bullet[2]!)}`
    const numbered = /^(\s*)(\d+)[.)]\s+(.*)$/.exec(text)
    if (numbered) return `${numbered[1]}${style.yellow(`${numbered[2]}.`)} ${this.inline(numbered[3]!)}`
    return this.inline(text)
  }

  /** Whether the renderer is inside a fenced code block (the next line is code). */
  get insideCode(): boolean {
    return this.inCode
  }

  private inline(text: string): string {
    const style = this.style
    // Code spans first, so that `**` inside them stays literal.
    return text
      .split(/(`[^`]+`)/)
      .map((segment) => {
        if (segment.length > 2 && segment.startsWith('`') && segment.endsWith('`')) {
          return style.cyan(segment.slice(1, -1))
        }
        return segment
          .replace(/\*\*([^*]+)\*\*|__([^_]+)__/g, (_, a: string | undefined, b: string | undefined) =>
            style.bold(a ?? b ?? ''),
          )
          .replace(/(^|[^*\w])\*([^*\s][^*]*)\*(?!\w)|(^|\W)_([^_\s][^_]*)_(?!\w)/g, (...match: string[]) => {
            const lead = match[1] ?? match[3] ?? ''
            return `${lead}${style.italic(match[2] ?? match[4] ?? '')}`
          })
      })
      .join('')
  }
}

/** Renders a whole text. */
export function renderMarkdown(text: string, style: Style): string {
  const renderer = new MarkdownRenderer(style)
  return text
    .split('\n')
    .map((line) => renderer.line(line))
    .join('\n')
}
