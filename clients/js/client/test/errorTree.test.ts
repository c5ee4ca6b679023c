/**
 * The one place errors are built: each code of the server's error body gives its class, a body
 * that is not ours falls back on the HTTP status, and Retry-After is read. Pure functions: the
 * answers the real server gives are in errors.test.ts; these cover the codes it gives only when
 * something is broken (500, 503, a proxy's page).
 */
import { describe, expect, it } from 'vitest'
import {
  FailedPreconditionError,
  InternalError,
  MethodNotAllowedError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  SessionRuntimeError,
  UnauthenticatedError,
  UnavailableError,
  ValidationError,
} from '../src'
import { errorFromErrorBody, errorFromResponse } from '../src/errors'
import { reconnectDelay } from '../src/backoff'

const body = (code: string, details: unknown = null) => ({
  error: { code, message: `${code} happened`, details },
})

describe('errorFromResponse', () => {
  it.each([
    ['VALIDATION_ERROR', 422, ValidationError],
    ['UNAUTHENTICATED', 401, UnauthenticatedError],
    ['PERMISSION_DENIED', 403, PermissionDeniedError],
    ['NOT_FOUND', 404, NotFoundError],
    ['METHOD_NOT_ALLOWED', 405, MethodNotAllowedError],
    ['FAILED_PRECONDITION', 409, FailedPreconditionError],
    ['RESOURCE_EXHAUSTED', 429, ResourceExhaustedError],
    ['UNAVAILABLE', 503, UnavailableError],
    ['INTERNAL', 500, InternalError],
  ] as const)('%s (%i) is a %s carrying message and details', (code, status, errorClass) => {
    const error = errorFromResponse(status, body(code, { resource: 'x' }))
    expect(error).toBeInstanceOf(errorClass)
    expect(error).toBeInstanceOf(SessionRuntimeError)
    expect(error).toMatchObject({
      code,
      status,
      message: `${code} happened`,
      details: { resource: 'x' },
    })
    expect(error.name).toBe(errorClass.name)
  })

  it('reads Retry-After into retryAfterSeconds', () => {
    const error = errorFromResponse(
      429,
      body('RESOURCE_EXHAUSTED'),
      new Headers({ 'retry-after': '3' }),
    )
    expect(error).toBeInstanceOf(ResourceExhaustedError)
    expect((error as ResourceExhaustedError).retryAfterSeconds).toBe(3)
  })

  it('falls back on the status when the body is not ours', () => {
    expect(errorFromResponse(502, '<html>bad gateway</html>')).toBeInstanceOf(UnavailableError)
    expect(errorFromResponse(404, null)).toBeInstanceOf(NotFoundError)
    expect(errorFromResponse(418, { error: { code: 'TEAPOT' } })).toBeInstanceOf(InternalError)
  })

  it('keeps the class status for a WebSocket error, which has no HTTP status', () => {
    const error = errorFromErrorBody({ code: 'PERMISSION_DENIED', message: 'no', details: null })
    expect(error).toBeInstanceOf(PermissionDeniedError)
    expect(error.status).toBe(403)
  })
})

describe('reconnectDelay', () => {
  it('is full jitter under a capped exponential', () => {
    const options = { initialDelayMs: 250, maxDelayMs: 10_000 }
    expect(reconnectDelay(0, options, () => 0.999)).toBeLessThan(250)
    expect(reconnectDelay(3, options, () => 0.999)).toBeLessThan(2000)
    expect(reconnectDelay(3, options, () => 0.999)).toBeGreaterThanOrEqual(1990)
    expect(reconnectDelay(50, options, () => 0.999)).toBeLessThan(10_000)
    expect(reconnectDelay(50, options, () => 0.999)).toBeGreaterThan(9_980)
    expect(reconnectDelay(5, options, () => 0)).toBe(0)
  })
})
