import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { checkDependencyRule, importsOf } from './dependency-rule.ts'

const repoRoot = resolve(import.meta.dirname, '../../..')

describe('dependency rule', () => {
  const temps: string[] = []
  afterEach(() => {
    for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true })
  })

  function tree(files: Record<string, string>): string {
    const root = mkdtempSync(join(tmpdir(), 'parley-deps-'))
    temps.push(root)
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(root, path, '..'), { recursive: true })
      writeFileSync(join(root, path), text)
    }
    return root
  }

  it('holds for this repository', () => {
    expect(checkDependencyRule(repoRoot)).toEqual([])
  })

  it('reports a driver, SDK or transport imported by core', () => {
    const root = tree({
      'packages/core/src/ok.ts': "import { z } from 'zod'\nimport type { X } from './x.ts'\n",
      'packages/core/src/bad.ts':
        "import { drizzle } from 'drizzle-orm/pglite'\nimport OpenAI from 'openai'\nconst ws = await import('ws')\nexport { initTRPC } from '@trpc/server'\n",
    })
    expect(checkDependencyRule(root).map((v) => v.specifier)).toEqual([
      'drizzle-orm/pglite',
      'openai',
      'ws',
      '@trpc/server',
    ])
  })

  it('reports persistence or providers imported by the web app or the CLI', () => {
    const root = tree({
      'apps/web/src/App.tsx': "import { createStores } from '@parley/persistence'\n",
      'apps/cli/src/main.ts':
        "import { scripted } from '@parley/providers/testing'\nimport { x } from '@parley/client'\n",
      'apps/server/src/main.ts': "import { createStores } from '@parley/persistence'\n",
    })
    expect(checkDependencyRule(root)).toEqual([
      expect.objectContaining({ file: 'apps/web/src/App.tsx', specifier: '@parley/persistence' }),
      expect.objectContaining({ file: 'apps/cli/src/main.ts', specifier: '@parley/providers/testing' }),
    ])
  })

  it('finds static, dynamic, re-export and require imports', () => {
    expect(
      importsOf("import a from 'a'\nimport 'b'\nexport * from 'c'\nawait import('d')\nrequire('e')\n"),
    ).toEqual(['a', 'b', 'c', 'd', 'e'])
  })
})
