/** The public face of both packages: exactly the agreed names, nothing missing, nothing extra. */
import { describe, expect, it } from 'vitest'
import * as client from '../src'

describe('@session-runtime/client', () => {
  it('exports exactly the agreed runtime names', () => {
    expect(Object.keys(client).sort()).toEqual(
      [
        'FailedPreconditionError',
        'InternalError',
        'MethodNotAllowedError',
        'NetworkError',
        'NotFoundError',
        'PermissionDeniedError',
        'ResourceExhaustedError',
        'SessionRuntimeError',
        'UnauthenticatedError',
        'UnavailableError',
        'ValidationError',
        'abandonSessionInputSchema',
        'clientSessionIdSchema',
        'completeSessionInputSchema',
        'configSourceSchema',
        'createSessionInputSchema',
        'createSessionRuntimeClient',
        'failSessionInputSchema',
        'idempotencyKeySchema',
        'isRetryableFailure',
        'mediaReferenceSchema',
        'newIdempotencyKey',
        'newSessionId',
        'sessionKeys',
        'sessionListFiltersSchema',
        'sessionModeSchema',
        'sessionStatusSchema',
        'updateSessionProgressInputSchema',
        'writeRetryDelay',
      ].sort(),
    )
  })

  it('builds sessionKeys exactly as the contract writes them', () => {
    expect(client.sessionKeys.all).toEqual(['sessions'])
    expect(client.sessionKeys.lists()).toEqual(['sessions', 'list'])
    expect(client.sessionKeys.list('p')).toEqual(['sessions', 'list', 'p'])
    expect(client.sessionKeys.details()).toEqual(['sessions', 'detail'])
    expect(client.sessionKeys.detail('p', 's')).toEqual(['sessions', 'detail', 'p', 's'])
  })
})
