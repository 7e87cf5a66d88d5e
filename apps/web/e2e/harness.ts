import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createParleyClient, type ParleyClient } from '@parley/client'
import { type BrowserContext, chromium, type Page } from 'playwright-core'

const webDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const repoDir = join(webDir, '..', '..')
export const screenshotDir = join(webDir, 'test-results')

export interface RunningServer {
  url: string
  /** The API key of each user asked for, by name. */
  keys: Record<string, string>
  /** A typed client for checks from the test side (HTTP only). */
  client: ParleyClient
  stop(): Promise<void>
}

/**
 * The real server (`apps/server/src/main.ts`) with the scripted provider and a throwaway data dir,
 * with `users` created beforehand by the admin command (for `PARLEY_AUTH=keys`).
 */
export async function startServer(
  env: Record<string, string> = {},
  options: { users?: string[] } = {},
): Promise<RunningServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'parley-web-e2e-'))
  const childEnv: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (
      value !== undefined &&
      !key.startsWith('OPENAI_') &&
      !key.startsWith('PARLEY_') &&
      key !== 'DATABASE_URL'
    ) {
      childEnv[key] = value
    }
  }
  Object.assign(childEnv, {
    PORT: '0',
    HOST: '127.0.0.1',
    PARLEY_DATA_DIR: dataDir,
    PARLEY_PROVIDER: 'scripted',
    PARLEY_LOG_LEVEL: 'warn',
    ...env,
  })
  // One at a time: the embedded database takes one process per data dir.
  const keys: Record<string, string> = {}
  for (const name of options.users ?? []) keys[name] = await createUser(name, childEnv)
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(repoDir, 'apps', 'server', 'src', 'main.ts')],
    {
      cwd: repoDir,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let output = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 90 s:\n${output}`)), 90_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /running on (http:\/\/[^\s]+)/.exec(output)
      if (match?.[1]) {
        clearTimeout(timer)
        resolve(match[1].replace(/\/+$/, ''))
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code}:\n${output}`))
    })
  })
  const client = createParleyClient({
    url,
    transport: 'sse',
    ...(env['PARLEY_TEST_KEY'] ? { apiKey: env['PARLEY_TEST_KEY'] } : {}),
  })
  return {
    url,
    keys,
    client,
    async stop() {
      client.close()
      await stopChild(child)
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

async function createUser(name: string, env: Record<string, string>): Promise<string> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(repoDir, 'apps', 'server', 'src', 'admin.ts'), 'create-user', name, '--json'],
    { cwd: repoDir, env, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  if (code !== 0) throw new Error(`create-user ${name} exited with ${code}:\n${stderr}`)
  return (JSON.parse(stdout) as { apiKey: string }).apiKey
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

export interface RunningBrowser {
  context: BrowserContext
  page: Page
  close(): Promise<void>
}

export function chromiumPath(): string {
  const path = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium'
  if (!existsSync(path)) {
    throw new Error(`No Chromium at ${path}: run scripts/ensure-chromium.sh or set CHROMIUM_PATH`)
  }
  return path
}

/** Debian's Chromium with a fresh profile, the way CI runs it. */
export async function launchBrowser(): Promise<RunningBrowser> {
  const userDataDir = await mkdtemp(join(tmpdir(), 'parley-web-chromium-'))
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
    viewport: { width: 1280, height: 800 },
  })
  context.setDefaultTimeout(20_000)
  const page = context.pages()[0] ?? (await context.newPage())
  return {
    context,
    page,
    async close() {
      await context.close()
      await rm(userDataDir, { recursive: true, force: true })
    },
  }
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(screenshotDir, { recursive: true })
  await page.screenshot({ path: join(screenshotDir, `${name}.png`) })
}

/** Text of the assistant replies of the page's conversation, in order. */
export async function replyTexts(page: Page): Promise<string[]> {
  return page.locator('.turn .message.assistant .assistant-body .reply-text').allInnerTexts()
}

export async function lastReplyText(page: Page): Promise<string> {
  const texts = await replyTexts(page)
  return texts.at(-1) ?? ''
}

export function conversationIdOf(page: Page): string {
  const match = /\/c\/([A-Za-z0-9_]+)/.exec(page.url())
  if (!match?.[1]) throw new Error(`not on a conversation page: ${page.url()}`)
  return match[1]
}

/** Sends a message from the composer and waits until the app shows the conversation. */
export async function send(page: Page, text: string): Promise<void> {
  const input = page.getByLabel('Message', { exact: true })
  await input.fill(text)
  await input.press('Enter')
  await page.waitForURL(/\/c\/conv_/)
}

/** Waits until no reply of the page is streaming any more. */
export async function waitForIdle(page: Page, timeout = 30_000): Promise<void> {
  await page.getByRole('button', { name: 'Send message' }).waitFor({ timeout })
  await page.locator('.message.assistant[aria-busy="true"]').waitFor({ state: 'detached', timeout })
}

export async function waitForWords(page: Page, min: number, timeout = 20_000): Promise<void> {
  await page.waitForFunction(
    (count) => {
      const replies = document.querySelectorAll('.turn .reply-text')
      const last = replies[replies.length - 1]
      return (last?.textContent ?? '').split(/\s+/).filter(Boolean).length >= count
    },
    min,
    { timeout },
  )
}
