import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

/**
 * The dependency rule of DESIGN.md, checked on source text:
 * - packages/core imports no driver, SDK or transport;
 * - apps other than the server import neither persistence nor providers.
 */
export const RULES: { dir: string; forbidden: RegExp; why: string }[] = [
  {
    dir: 'packages/core/src',
    forbidden:
      /^(drizzle-orm|drizzle-kit|postgres|pg|@electric-sql\/pglite|openai|ws|@trpc\/.*|pino)(\/.*)?$|^@parley\/(?!core$)/,
    why: 'core imports no driver, SDK, transport or other Parley package',
  },
  {
    dir: 'apps/web/src',
    forbidden: /^@parley\/(persistence|providers)(\/.*)?$/,
    why: 'apps other than the server use the client only',
  },
  {
    dir: 'apps/cli/src',
    forbidden: /^@parley\/(persistence|providers)(\/.*)?$/,
    why: 'apps other than the server use the client only',
  },
  {
    dir: 'packages/client/src',
    forbidden: /^@parley\/(persistence|providers)(\/.*)?$/,
    why: 'the client is transport only',
  },
]

const IMPORT =
  /(?:^|\s)(?:import|export)\s(?:[^'"]*?\sfrom\s)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g

export interface Violation {
  file: string
  specifier: string
  why: string
}

function sourceFiles(dir: string): string[] {
  let entries: string[]
  try {
    entries = readdirSync(dir)
  } catch {
    return []
  }
  return entries.flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : sourceFiles(path)
    return /\.(ts|tsx|js|mjs)$/.test(name) ? [path] : []
  })
}

export function importsOf(source: string): string[] {
  return [...source.matchAll(IMPORT)].map((match) => match[1] ?? match[2] ?? match[3] ?? '').filter(Boolean)
}

export function checkDependencyRule(root: string): Violation[] {
  return RULES.flatMap((rule) =>
    sourceFiles(join(root, rule.dir)).flatMap((file) =>
      importsOf(readFileSync(file, 'utf8'))
        .filter((specifier) => rule.forbidden.test(specifier))
        .map((specifier) => ({ file: relative(root, file), specifier, why: rule.why })),
    ),
  )
}
