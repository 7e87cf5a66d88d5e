import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createStores } from '../src/index.ts'

describe('PGlite in a data directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'parley-pglite-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('is not ready before migrating, and keeps its data across reopening', async () => {
    const dataDir = join(dir, 'data')
    const first = await createStores({ dataDir })
    expect(await first.ready()).toBe(false)
    await first.migrate()
    expect(await first.ready()).toBe(true)
    const local = await first.users.localUser()
    const conversation = await first.conversations.create(local.id, { title: 'kept' })
    await first.close()

    const second = await createStores({ dataDir })
    await second.migrate()
    expect(await second.users.localUser()).toEqual(local)
    expect((await second.conversations.get(local.id, conversation.id))?.title).toBe('kept')
    await second.close()
  })
})
