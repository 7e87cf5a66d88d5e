/** ANSI styling, on only for a terminal without NO_COLOR (https://no-color.org). */
export interface Style {
  enabled: boolean
  bold(text: string): string
  dim(text: string): string
  italic(text: string): string
  cyan(text: string): string
  green(text: string): string
  red(text: string): string
  yellow(text: string): string
  magenta(text: string): string
}

export function colorEnabled(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv): boolean {
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false
  if (env['FORCE_COLOR'] !== undefined && env['FORCE_COLOR'] !== '' && env['FORCE_COLOR'] !== '0') return true
  return stream.isTTY === true && env['TERM'] !== 'dumb'
}

export function createStyle(enabled: boolean): Style {
  const wrap = (open: number, close: number) => (text: string) =>
    enabled && text ? `\x1b[${open}m${text}\x1b[${close}m` : text
  return {
    enabled,
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    italic: wrap(3, 23),
    cyan: wrap(36, 39),
    green: wrap(32, 39),
    red: wrap(31, 39),
    yellow: wrap(33, 39),
    magenta: wrap(35, 39),
  }
}

/** Visible width of a string (ANSI codes removed; wide characters are rare enough to ignore). */
export function visibleLength(text: string): number {
  return [...text.replace(/\x1b\[[0-9;]*m/g, '')].length
}
