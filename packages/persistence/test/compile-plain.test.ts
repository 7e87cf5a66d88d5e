import { sql } from 'drizzle-orm'
import { PgDialect } from 'drizzle-orm/pg-core'
import { describe, expect, it } from 'vitest'
import { compilePlain } from '../src/db.ts'
import { turns } from '../src/schema.ts'

const dialect = new PgDialect()

describe('compilePlain', () => {
  it('gives drizzle’s own text and parameters for plain templates, nested ones included', () => {
    const inner = (id: string) => sql`select id from turns where id = ${id} and depth > ${3}`
    const at = new Date('2026-01-02T03:04:05Z')
    const query = sql`with t as (${inner('resp_a')}) select ${null}::text, ${true}, ${at} from t where x = ${"it's"} ${undefined}`
    const ours = compilePlain(query)
    const theirs = dialect.sqlToQuery(query)
    expect(ours).toEqual({ sql: theirs.sql, params: theirs.params })
    expect(ours?.params).toEqual(['resp_a', 3, null, true, at, "it's"])
  })

  it('declines what it does not handle, so that drizzle compiles it', () => {
    expect(compilePlain(sql`select ${turns.id} from ${turns}`)).toBeNull()
    expect(compilePlain(sql`select * from t where id in ${['a', 'b']}`)).toBeNull()
    expect(compilePlain(sql`select ${sql.raw('1')}`)).not.toBeNull()
    const inlined = sql`select ${'x'}`
    inlined.inlineParams()
    expect(compilePlain(inlined)).toBeNull()
  })
})
