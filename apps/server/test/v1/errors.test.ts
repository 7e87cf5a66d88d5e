import { ParleyError, ValidationError } from '@parley/core'
import { describe, expect, it } from 'vitest'
import { toV1Error } from '../../src/v1/errors.ts'

describe('/v1 error objects', () => {
  it('names a server error server_error and says nothing of its cause', () => {
    const internal = toV1Error(new ParleyError('internal', 'select * from turns failed', 500))
    expect(internal.body()).toEqual({
      error: {
        message: 'The server had an error while processing the request',
        type: 'server_error',
        param: null,
        code: 'server_error',
      },
    })
    expect(toV1Error(new Error('boom at /srv/app.ts:1')).body().error).toMatchObject({
      code: 'server_error',
      message: 'The server had an error while processing the request',
    })
  })

  it('keeps the OpenAI names of the other reasons and the field of a validation error', () => {
    expect(toV1Error(new ParleyError('rate_limited', 'Slow down', 429)).code).toBe('rate_limit_exceeded')
    const invalid = toV1Error(new ValidationError([{ path: 'input.0.content.0.text', message: 'too long' }]))
    expect(invalid).toMatchObject({ status: 400, param: 'input.0.content.0.text', code: 'invalid_value' })
  })
})
