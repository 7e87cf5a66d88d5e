import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const webDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const repoDir = join(webDir, '..', '..')

function newestMtime(path: string): number {
  let stats: ReturnType<typeof statSync>
  try {
    stats = statSync(path)
  } catch {
    return 0
  }
  if (!stats.isDirectory()) return stats.mtimeMs
  let newest = stats.mtimeMs
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules') continue
    newest = Math.max(newest, newestMtime(join(path, entry)))
  }
  return newest
}

/** The e2e tests run against the production build: rebuild it when missing or older than its sources. */
export default function setup(): void {
  const built = newestMtime(join(webDir, 'dist', 'index.html'))
  const sources = Math.max(
    newestMtime(join(webDir, 'src')),
    newestMtime(join(webDir, 'index.html')),
    newestMtime(join(webDir, 'vite.config.ts')),
    newestMtime(join(repoDir, 'packages', 'client', 'src')),
    newestMtime(join(repoDir, 'packages', 'core', 'src')),
  )
  if (built > 0 && built >= sources) return
  const result = spawnSync(
    process.execPath,
    [join(webDir, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'],
    {
      cwd: webDir,
      stdio: 'inherit',
    },
  )
  if (result.status !== 0) throw new Error('vite build failed; the e2e tests need apps/web/dist')
}
