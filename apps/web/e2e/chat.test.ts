import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  conversationIdOf,
  lastReplyText,
  launchBrowser,
  type RunningBrowser,
  type RunningServer,
  replyTexts,
  screenshot,
  send,
  startServer,
  waitForIdle,
  waitForWords,
} from './harness.ts'

let server: RunningServer
let browser: RunningBrowser

beforeAll(async () => {
  server = await startServer()
  browser = await launchBrowser()
})

afterAll(async () => {
  await browser?.close()
  await server?.stop()
})

const words = (text: string) => text.split(/\s+/).filter(Boolean)

/** Runs `action` while every `chat.send` of the page fails, as when the network drops it. */
async function whileSendFails(page: Page, action: () => Promise<void>): Promise<void> {
  await page.route('**/trpc/chat.send**', (route) => route.abort())
  try {
    await action()
  } finally {
    await page.unroute('**/trpc/chat.send**')
  }
}

async function usageTurns(): Promise<number> {
  const totals = await server.client.usage.totals.query({})
  return totals.reduce((sum, row) => sum + row.turns, 0)
}

/** The stored text of the conversation's head turn, as the server has it. */
async function storedHeadText(
  conversationId: string,
): Promise<{ text: string; status: string; turnId: string }> {
  const page = await server.client.messages.list.query({ conversationId, limit: 200 })
  const head = page.data.at(-1)
  if (!head) throw new Error('no turn')
  const text = head.output
    .filter((item) => item.type === 'message')
    .map((item) =>
      item.type === 'message'
        ? item.content.map((part) => (part.type === 'output_text' ? part.text : '')).join('')
        : '',
    )
    .join('\n\n')
  return { text, status: head.turn.status, turnId: head.turn.id }
}

describe('chat in Chromium against a real server', () => {
  it('sends a message and streams the reply token by token', async () => {
    const { page } = browser
    await page.goto(server.url)
    await page.getByRole('heading', { name: 'What can I help with?' }).waitFor()
    await screenshot(page, 'home-desktop-light')
    await send(page, 'Hello there [[words:60]] [[delay:25]]')
    // Partial text first, then more: the reply streams.
    await waitForWords(page, 5)
    const early = words(await lastReplyText(page)).length
    expect(early).toBeLessThan(60)
    await waitForIdle(page)
    const final = await lastReplyText(page)
    expect(words(final)).toHaveLength(60)
    expect(final.startsWith('Parley demo model')).toBe(true)
    const stored = await storedHeadText(conversationIdOf(page))
    expect(stored.status).toBe('completed')
    expect(final).toBe(stored.text)
    await expect.poll(() => page.locator('.usage').last().textContent()).toMatch(/\d+ tokens/)
    await screenshot(page, 'conversation-desktop-light')
  })

  it('continues the same reply after a reload mid-stream, without duplicated text or a second model call', async () => {
    const { page } = browser
    const before = await usageTurns()
    await page.goto(server.url)
    await send(page, 'Tell me a long story [[words:150]] [[delay:40]]')
    const conversationId = conversationIdOf(page)
    await waitForWords(page, 25)
    const seenBeforeReload = words(await lastReplyText(page)).length
    await page.reload()
    // The reply shows up again at once (restored) and keeps growing from where it was.
    await waitForWords(page, seenBeforeReload)
    await expect
      .poll(async () => words(await lastReplyText(page)).length, { timeout: 10_000 })
      .toBeGreaterThan(seenBeforeReload)
    await waitForIdle(page)
    const final = await lastReplyText(page)
    const stored = await storedHeadText(conversationId)
    expect(stored.status).toBe('completed')
    expect(words(final)).toHaveLength(150)
    expect(final).toBe(stored.text)
    // One turn in this conversation, and exactly one more billed reply on the server.
    const branch = await server.client.messages.list.query({ conversationId })
    expect(branch.data).toHaveLength(1)
    expect(await usageTurns()).toBe(before + 1)
    await page.reload()
    await page.locator('.reply-text').first().waitFor()
    expect(await replyTexts(page)).toEqual([stored.text])
  })

  it('stops a reply with Esc and keeps what was written', async () => {
    const { page } = browser
    await page.goto(server.url)
    await send(page, 'Go on and on [[words:400]] [[delay:40]]')
    await waitForWords(page, 10)
    await page.getByRole('button', { name: /Stop generating/ }).waitFor()
    await page.keyboard.press('Escape')
    await page.getByText('Stopped.').waitFor()
    const stored = await storedHeadText(conversationIdOf(page))
    expect(stored.status).toBe('cancelled')
    const shown = words(await lastReplyText(page)).length
    expect(shown).toBeGreaterThan(0)
    expect(shown).toBeLessThan(400)
    await page.waitForTimeout(500)
    expect(words(await lastReplyText(page)).length).toBe(shown)
  })

  it('shows tool calls as collapsible steps with arguments, result and duration', async () => {
    const { page } = browser
    await page.goto(server.url)
    await send(page, 'calc: 2+3')
    await waitForIdle(page)
    const step = page.locator('details.tool-step[data-tool="calculator"]')
    await step.waitFor()
    await expect.poll(() => step.locator('.tool-state').textContent()).toMatch(/\d+ ms|done/)
    await step.locator('summary').click()
    const body = (await step.locator('.tool-body').textContent()) ?? ''
    expect(body).toContain('2+3')
    expect(body).toMatch(/\b5\b/)
    expect(await lastReplyText(page)).toContain('calculator tool returned')
    const input = page.getByLabel('Message', { exact: true })
    await input.fill('what time is it?')
    await input.press('Enter')
    await page.locator('details.tool-step[data-tool="clock"]').waitFor()
    await waitForIdle(page)
    await screenshot(page, 'tools-desktop-light')
  })

  it('regenerates and edits into branches and switches between them', async () => {
    const { page } = browser
    await page.goto(server.url)
    await send(page, 'First question [[words:12]]')
    await waitForIdle(page)
    const conversationId = conversationIdOf(page)
    const firstTurn = (await storedHeadText(conversationId)).turnId

    await page.getByRole('button', { name: 'Regenerate' }).click()
    await page.locator('.branch-label', { hasText: '2/2' }).waitFor()
    await waitForIdle(page)
    const regenerated = await storedHeadText(conversationId)
    expect(regenerated.turnId).not.toBe(firstTurn)

    await page.getByRole('button', { name: 'Edit' }).click()
    const editor = page.getByLabel('Edit message')
    await editor.fill('Edited question [[words:8]]')
    await page.getByRole('button', { name: 'Save & send' }).click()
    await page.locator('.branch-label', { hasText: '3/3' }).waitFor()
    await waitForIdle(page)
    await page.locator('.bubble', { hasText: 'Edited question' }).waitFor()
    expect(words(await lastReplyText(page))).toHaveLength(8)

    await page.getByRole('button', { name: 'Previous version' }).click()
    await page.locator('.branch-label', { hasText: '2/3' }).waitFor()
    await page.getByRole('button', { name: 'Previous version' }).click()
    await page.locator('.branch-label', { hasText: '1/3' }).waitFor()
    await page.locator('.bubble', { hasText: 'First question' }).waitFor()
    const conversation = await server.client.conversations.get.query({ id: conversationId })
    expect(conversation.headTurnId).toBe(firstTurn)
    await screenshot(page, 'branches-desktop-light')
  })

  it('shows the same live reply in two tabs', async () => {
    const { page, context } = browser
    await page.goto(server.url)
    await send(page, 'Shared reply [[words:120]] [[delay:40]]')
    const url = page.url()
    await waitForWords(page, 5)
    const second = await context.newPage()
    try {
      await second.goto(url)
      // The second tab attaches to the running turn and sees it grow.
      await waitForWords(second, 10)
      const seen = words(await lastReplyText(second)).length
      expect(seen).toBeLessThan(120)
      await expect
        .poll(async () => words(await lastReplyText(second)).length, { timeout: 10_000 })
        .toBeGreaterThan(seen)
      await waitForIdle(second)
      await waitForIdle(page)
      const [a, b] = [await lastReplyText(page), await lastReplyText(second)]
      expect(words(a)).toHaveLength(120)
      expect(b).toBe(a)
      // A tab already open on the conversation follows the next reply too.
      const input = page.getByLabel('Message', { exact: true })
      await input.fill('Another one [[words:40]] [[delay:30]]')
      await input.press('Enter')
      await second.locator('.bubble', { hasText: 'Another one' }).waitFor()
      await waitForIdle(page)
      await waitForIdle(second)
      await expect.poll(() => lastReplyText(second)).toBe(await lastReplyText(page))
    } finally {
      await second.close()
    }
  })

  it('renames, searches and deletes conversations (with undo)', async () => {
    const { page } = browser
    await page.goto(server.url)
    await send(page, 'A conversation to rename [[words:5]]')
    await waitForIdle(page)
    const conversationId = conversationIdOf(page)
    const row = page.locator('.conversation-row.active')
    await row.getByRole('button', { name: /^Rename/ }).click()
    await page.getByLabel('New title').fill('Quarterly planning notes')
    await page.getByLabel('New title').press('Enter')
    await page.locator('.conversation-row', { hasText: 'Quarterly planning notes' }).waitFor()
    await page.locator('.conversation-heading', { hasText: 'Quarterly planning notes' }).waitFor()
    expect((await server.client.conversations.get.query({ id: conversationId })).title).toBe(
      'Quarterly planning notes',
    )

    await page.getByLabel('Search conversations').fill('quarterly')
    await expect.poll(() => page.locator('.conversation-row').count()).toBe(1)
    await page.getByLabel('Search conversations').fill('no such title at all')
    await page.getByText('No conversation matches.').waitFor()
    await page.getByLabel('Search conversations').fill('')
    await expect.poll(() => page.locator('.conversation-row').count()).toBeGreaterThan(1)

    const target = page.locator('.conversation-row', { hasText: 'Quarterly planning notes' })
    await target.getByRole('button', { name: /^Delete/ }).click()
    await expect.poll(() => target.count()).toBe(0)
    await page.getByRole('button', { name: 'Undo' }).click()
    await target.waitFor()
    // Row actions show on hover or focus once the row is no longer the open conversation.
    await target.hover()
    await target.getByRole('button', { name: /^Delete/ }).click()
    await page.getByRole('button', { name: 'Dismiss notification' }).click()
    await expect
      .poll(async () => (await server.client.conversations.list.query({ search: 'Quarterly' })).data.length)
      .toBe(0)
    await page.reload()
    await page.locator('.conversation-row').first().waitFor()
    expect(await page.locator('.conversation-row', { hasText: 'Quarterly planning notes' }).count()).toBe(0)
  })

  it('keeps typing in the composer after the first message opens the conversation', async () => {
    const { page } = browser
    await page.goto(server.url)
    await send(page, 'Where does my cursor go [[words:4]]')
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('composer-input')
    await page.keyboard.type('typed right away')
    expect(await page.getByLabel('Message', { exact: true }).inputValue()).toBe('typed right away')
    await waitForIdle(page)
  })

  it('leaves the reply running when Esc closes the rename box or clears the search', async () => {
    const { page } = browser
    await page.goto(server.url)
    await send(page, 'Keep streaming please [[words:100]] [[delay:30]]')
    const conversationId = conversationIdOf(page)
    await waitForWords(page, 5)
    await page
      .locator('.conversation-row.active')
      .getByRole('button', { name: /^Rename/ })
      .click()
    await page.getByLabel('New title').press('Escape')
    await page.getByLabel('New title').waitFor({ state: 'detached' })
    const streaming = page.locator('.message.assistant[aria-busy="true"]')
    expect(await streaming.count()).toBe(1)
    const search = page.getByLabel('Search conversations')
    await search.fill('keep streaming')
    await search.press('Escape')
    expect(await search.inputValue()).toBe('')
    // Still streaming after both: otherwise the checks below would prove nothing.
    expect(await streaming.count()).toBe(1)
    await waitForIdle(page)
    expect(words(await lastReplyText(page))).toHaveLength(100)
    expect((await storedHeadText(conversationId)).status).toBe('completed')
  })

  it('keeps a first message the server did not take in the composer, and sends it once later', async () => {
    const { page } = browser
    await page.goto(server.url)
    const text = 'Unsent opening line [[words:5]]'
    const input = page.getByLabel('Message', { exact: true })
    await whileSendFails(page, async () => {
      await input.fill(text)
      await input.press('Enter')
      await page.locator('.banner.error').waitFor()
    })
    expect(await input.inputValue()).toBe(text)
    expect(new URL(page.url()).pathname).toBe('/')
    const listed = async () =>
      (await server.client.conversations.list.query({ search: 'Unsent opening line' })).data
    // The conversation made for it is not left behind empty.
    expect(await listed()).toHaveLength(0)

    await input.press('Enter')
    await page.waitForURL(/\/c\/conv_/)
    await waitForIdle(page)
    expect(await lastReplyText(page)).not.toBe('')
    const conversations = await listed()
    expect(conversations.map((conversation) => conversation.id)).toEqual([conversationIdOf(page)])
    const branch = await server.client.messages.list.query({ conversationId: conversationIdOf(page) })
    expect(branch.data).toHaveLength(1)
  })

  it('puts a message that could not be sent back into the composer when its error is dismissed', async () => {
    const { page } = browser
    await page.goto(server.url)
    await send(page, 'An opening message [[words:3]]')
    await waitForIdle(page)
    const conversationId = conversationIdOf(page)
    const text = 'A follow-up the server never got [[words:4]]'
    const input = page.getByLabel('Message', { exact: true })
    await whileSendFails(page, async () => {
      await input.fill(text)
      await input.press('Enter')
      await page.locator('.banner.error').getByRole('button', { name: 'Dismiss' }).click()
    })
    expect(await input.inputValue()).toBe(text)
    expect(await page.locator('.bubble', { hasText: 'A follow-up' }).count()).toBe(0)
    // Typing goes on where it stopped: the composer has the focus back.
    await page.waitForFunction(() => document.activeElement?.id === 'composer-input')

    await input.press('Enter')
    await page.locator('.bubble', { hasText: 'A follow-up' }).waitFor()
    await waitForIdle(page)
    expect(await input.inputValue()).toBe('')
    expect(words(await lastReplyText(page))).toHaveLength(4)
    const branch = await server.client.messages.list.query({ conversationId })
    expect(branch.data).toHaveLength(2)
  })

  it('looks right in dark mode and at a phone width (screenshots)', async () => {
    const { page } = browser
    await page.goto(server.url)
    await page.locator('.conversation-row').first().locator('a').click()
    await page.locator('.reply-text').first().waitFor()
    await page.emulateMedia({ colorScheme: 'dark' })
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).not.toBe(
      'rgb(255, 255, 255)',
    )
    await screenshot(page, 'conversation-desktop-dark')
    await page.getByRole('button', { name: 'Usage' }).click()
    await page.getByRole('heading', { name: /Tokens per day/ }).waitFor()
    // The heading shows before the totals arrive: wait for the chart's bars, then read them.
    await page.locator('.usage-chart rect').first().waitFor()
    expect(Number(await page.getByTestId('usage-turns').textContent())).toBeGreaterThan(0)
    await screenshot(page, 'usage-desktop-dark')
    await page.emulateMedia({ colorScheme: 'light' })
    await screenshot(page, 'usage-desktop-light')

    await page.setViewportSize({ width: 390, height: 844 })
    await page.goBack()
    await page.locator('.reply-text').first().waitFor()
    expect(await page.locator('.sidebar').isVisible()).toBe(false)
    await screenshot(page, 'conversation-phone-light')
    await page.getByRole('button', { name: 'Open conversations' }).click()
    await page.locator('.sidebar').waitFor({ state: 'visible' })
    await screenshot(page, 'sidebar-phone-light')
    await page.emulateMedia({ colorScheme: 'dark' })
    await screenshot(page, 'sidebar-phone-dark')
    await page.getByRole('button', { name: 'Close conversations' }).click()
    await screenshot(page, 'conversation-phone-dark')
    await page.setViewportSize({ width: 1280, height: 800 })
    await page.emulateMedia({ colorScheme: 'light' })
  })
})

describe('two users on a server with API keys', () => {
  let keyServer: RunningServer
  let page: Page

  beforeAll(async () => {
    keyServer = await startServer({ PARLEY_AUTH: 'keys' }, { users: ['alice', 'bob'] })
    page = await browser.context.newPage()
  })

  afterAll(async () => {
    await page?.close()
    await keyServer?.stop()
  })

  async function signIn(name: string): Promise<void> {
    const key = keyServer.keys[name]
    if (!key) throw new Error(`no key for ${name}`)
    await page.getByLabel('API key').fill(key)
    await page.getByRole('button', { name: 'Continue' }).click()
  }

  it('shows the next user nothing of the previous one after signing out', async () => {
    await page.goto(keyServer.url)
    await signIn('alice')
    await send(page, 'Alice private plans [[words:6]]')
    await waitForIdle(page)
    await page.locator('.conversation-row', { hasText: 'Alice private plans' }).waitFor()

    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByLabel('API key').waitFor()
    // From here on, note it if any of Alice's text is on the page, even for one frame.
    await page.evaluate(() => {
      const state = window as unknown as { leaked: boolean }
      state.leaked = false
      new MutationObserver(() => {
        if (document.body.textContent?.includes('Alice private plans')) state.leaked = true
      }).observe(document.body, { childList: true, subtree: true, characterData: true })
    })
    await signIn('bob')
    await page.getByText('No conversations yet.').waitFor()
    await page.getByRole('heading', { name: 'What can I help with?' }).waitFor()
    expect(new URL(page.url()).pathname).toBe('/')
    expect(await page.locator('body').textContent()).not.toContain('Alice')
    expect(await page.evaluate(() => (window as unknown as { leaked: boolean }).leaked)).toBe(false)
  })
})
