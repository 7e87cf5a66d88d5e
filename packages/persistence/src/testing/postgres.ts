import { execFile, execFileSync } from 'node:child_process'
import { chownSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import postgres from 'postgres'

const run = promisify(execFile)

export interface TestPostgres {
  /** A connection URL for a fresh, empty database. */
  url: string
  stop(): Promise<void>
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()))
    })
  })
}

/** Postgres refuses to run as root: as root, the cluster belongs to the `postgres` OS user. */
async function asClusterOwner(command: string, args: string[]): Promise<void> {
  if (process.getuid?.() === 0) await run('runuser', ['-u', 'postgres', '--', command, ...args])
  else await run(command, args)
}

async function ownerIds(): Promise<{ uid: number; gid: number } | null> {
  if (process.getuid?.() !== 0) return null
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])])
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) }
}

/**
 * A fresh database for tests. With DATABASE_URL set, a new database is created on that server
 * (and dropped on stop); otherwise a throwaway Postgres cluster is started on a free port
 * (initdb into a temporary directory, fsync off) and removed on stop.
 */
export async function startPostgres(): Promise<TestPostgres> {
  const given = process.env.DATABASE_URL
  if (given) return createDatabase(given)

  const dir = mkdtempSync(join(tmpdir(), 'parley-pg-'))
  const data = join(dir, 'data')
  const owner = await ownerIds()
  if (owner) chownSync(dir, owner.uid, owner.gid)
  const port = await freePort()
  try {
    await asClusterOwner('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'])
    const settings = [
      `-p ${port}`,
      `-k ${dir}`,
      '-c listen_addresses=127.0.0.1',
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=200',
    ].join(' ')
    await asClusterOwner('pg_ctl', ['-D', data, '-o', settings, '-l', join(dir, 'log'), '-w', 'start'])
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
  let stopped = false
  // A script that crashes before stop() must not leave a server running: stop it on exit.
  const stopOnExit = () => {
    if (stopped) return
    stopped = true
    const args = ['-D', data, '-m', 'immediate', '-w', 'stop']
    try {
      if (process.getuid?.() === 0) execFileSync('runuser', ['-u', 'postgres', '--', 'pg_ctl', ...args])
      else execFileSync('pg_ctl', args)
    } catch {
      // Already stopped.
    }
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', stopOnExit)
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      if (stopped) return
      stopped = true
      process.removeListener('exit', stopOnExit)
      try {
        await asClusterOwner('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}

/** A new database on an existing server; falls back to the URL itself without CREATEDB rights. */
export async function createDatabase(serverUrl: string): Promise<TestPostgres> {
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
  const name = `parley_test_${Math.random().toString(36).slice(2, 12)}`
  try {
    await admin.unsafe(`create database ${name}`)
  } catch {
    await admin.end({ timeout: 5 })
    return { url: serverUrl, stop: async () => {} }
  }
  await admin.end({ timeout: 5 })
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async stop() {
      const again = postgres(serverUrl, { max: 1, onnotice: () => {} })
      try {
        await again.unsafe(`drop database if exists ${name} with (force)`)
      } finally {
        await again.end({ timeout: 5 })
      }
    },
  }
}
