/**
 * The one error tree of the JavaScript client, the same as the server's:
 *
 *     SessionRuntimeError
 *     ├── ValidationError          VALIDATION_ERROR     422  (details: [{path, message}])
 *     ├── UnauthenticatedError     UNAUTHENTICATED      401
 *     ├── PermissionDeniedError    PERMISSION_DENIED    403
 *     ├── NotFoundError            NOT_FOUND            404  (details.resource)
 *     ├── MethodNotAllowedError    METHOD_NOT_ALLOWED   405
 *     ├── FailedPreconditionError  FAILED_PRECONDITION  409  (final session, version mismatch)
 *     ├── ResourceExhaustedError   RESOURCE_EXHAUSTED   413 / 429  (retryAfterSeconds)
 *     ├── UnavailableError         UNAVAILABLE          503  (storage down; retry later)
 *     │   └── NetworkError         UNAVAILABLE          null (the server was not reached)
 *     └── InternalError            INTERNAL             500  (a bug on the server)
 *
 * Every error the client raises is built in one place, {@link errorFromResponse}, from the
 * server's one error body `{"error": {"code", "message", "details"}}`, or by the client itself
 * for a refused input (Zod) or an unreachable server.
 */

export type ErrorCode =
  | 'VALIDATION_ERROR'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'FAILED_PRECONDITION'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'INTERNAL'

/** One problem with one field of an input: `path` is dotted (`outputs.portrait.url`). */
export interface ValidationIssue {
  path: string
  message: string
}

export interface SessionRuntimeErrorOptions {
  status?: number | null
  details?: unknown
  cause?: unknown
}

/** The base of every error the client raises on purpose; `code` is the contract's code. */
export class SessionRuntimeError extends Error {
  readonly code: ErrorCode
  readonly status: number | null
  readonly details: unknown

  constructor(code: ErrorCode, message: string, options: SessionRuntimeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.status = options.status ?? null
    this.details = options.details ?? null
  }
}

/** The input does not fit; `details` lists `{path, message}` for each refused field. */
export class ValidationError extends SessionRuntimeError {
  declare readonly details: ValidationIssue[]
  constructor(message: string, options: SessionRuntimeErrorOptions = {}) {
    super('VALIDATION_ERROR', message, { status: 422, ...options })
  }
}

/** No token, or an unknown, malformed or revoked one. */
export class UnauthenticatedError extends SessionRuntimeError {
  constructor(message: string, options: SessionRuntimeErrorOptions = {}) {
    super('UNAUTHENTICATED', message, { status: 401, ...options })
  }
}

/** The token is known but may not do this. */
export class PermissionDeniedError extends SessionRuntimeError {
  constructor(message: string, options: SessionRuntimeErrorOptions = {}) {
    super('PERMISSION_DENIED', message, { status: 403, ...options })
  }
}

/** A project, event, experience or session does not exist; `details.resource` says which. */
export class NotFoundError extends SessionRuntimeError {
  constructor(message: string, options: SessionRuntimeErrorOptions = {}) {
    super('NOT_FOUND', message, { status: 404, ...options })
  }
}

/** The path exists but not with this method. */
export class MethodNotAllowedError extends SessionRuntimeError {
  constructor(message: string, options: SessionRuntimeErrorOptions = {}) {
    super('METHOD_NOT_ALLOWED', message, { status: 405, ...options })
  }
}

/** The session is final, or `If-Match` named another version than the stored one. */
export class FailedPreconditionError extends SessionRuntimeError {
  constructor(message: string, options: SessionRuntimeErrorOptions = {}) {
    super('FAILED_PRECONDITION', message, { status: 409, ...options })
  }
}

/** A size limit (413) or a rate limit (429, with `retryAfterSeconds`) was reached. */
export class ResourceExhaustedError extends SessionRuntimeError {
  readonly retryAfterSeconds: number | null
  constructor(
    message: string,
    options: SessionRuntimeErrorOptions & { retryAfterSeconds?: number | null } = {},
  ) {
    super('RESOURCE_EXHAUSTED', message, { status: 413, ...options })
    this.retryAfterSeconds = options.retryAfterSeconds ?? null
  }
}

/** The server cannot reach its storage right now; nothing was written, retrying may succeed. */
export class UnavailableError extends SessionRuntimeError {
  constructor(message: string, options: SessionRuntimeErrorOptions = {}) {
    super('UNAVAILABLE', message, { status: 503, ...options })
  }
}

/** The server could not be reached at all (offline, refused, reset): `status` is null. */
export class NetworkError extends UnavailableError {
  constructor(message: string, options: Omit<SessionRuntimeErrorOptions, 'status'> = {}) {
    super(message, { ...options, status: null })
  }
}

/** The server failed on its own (a 500, or an answer that is not the error body): a bug. */
export class InternalError extends SessionRuntimeError {
  constructor(message: string, options: SessionRuntimeErrorOptions = {}) {
    super('INTERNAL', message, { status: 500, ...options })
  }
}

type ErrorClass = new (message: string, options: SessionRuntimeErrorOptions) => SessionRuntimeError

const ERRORS_BY_CODE: Record<Exclude<ErrorCode, 'RESOURCE_EXHAUSTED'>, ErrorClass> = {
  VALIDATION_ERROR: ValidationError,
  UNAUTHENTICATED: UnauthenticatedError,
  PERMISSION_DENIED: PermissionDeniedError,
  NOT_FOUND: NotFoundError,
  METHOD_NOT_ALLOWED: MethodNotAllowedError,
  FAILED_PRECONDITION: FailedPreconditionError,
  UNAVAILABLE: UnavailableError,
  INTERNAL: InternalError,
}

// When the body is not ours (a proxy's page, an empty 502), the status decides.
const CODES_BY_STATUS: Record<number, ErrorCode> = {
  400: 'VALIDATION_ERROR',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'FAILED_PRECONDITION',
  412: 'FAILED_PRECONDITION',
  413: 'RESOURCE_EXHAUSTED',
  422: 'VALIDATION_ERROR',
  429: 'RESOURCE_EXHAUSTED',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
  504: 'UNAVAILABLE',
}

function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (value === 'RESOURCE_EXHAUSTED' || value in ERRORS_BY_CODE)
}

interface ErrorBodyShape {
  code?: unknown
  message?: unknown
  details?: unknown
}

function readErrorBody(body: unknown): ErrorBodyShape | null {
  if (typeof body !== 'object' || body === null || !('error' in body)) return null
  const inner = (body as { error: unknown }).error
  return typeof inner === 'object' && inner !== null ? (inner as ErrorBodyShape) : null
}

function parseRetryAfter(header: string | null): number | null {
  if (header === null) return null
  const seconds = Number(header)
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : null
}

/** The error a WebSocket `error` message carries: `{code, message, details}`, no HTTP status. */
export function errorFromErrorBody(error: unknown): SessionRuntimeError {
  return errorFromResponse(null, { error })
}

/**
 * The error for one refused answer: the class of the body's `code` (else of the HTTP status),
 * with the server's message and details. The one place an error is made from a response.
 */
export function errorFromResponse(
  status: number | null,
  body: unknown,
  headers?: { get(name: string): string | null },
): SessionRuntimeError {
  const errorBody = readErrorBody(body)
  const code: ErrorCode = isErrorCode(errorBody?.code)
    ? errorBody.code
    : ((status === null ? undefined : CODES_BY_STATUS[status]) ?? 'INTERNAL')
  const message =
    typeof errorBody?.message === 'string' ? errorBody.message : `the server answered ${status}`
  // Without an HTTP status (a WebSocket message), each class keeps the status of its code.
  const options: SessionRuntimeErrorOptions = { details: errorBody?.details ?? null }
  if (status !== null) options.status = status
  if (code === 'RESOURCE_EXHAUSTED') {
    return new ResourceExhaustedError(message, {
      ...options,
      retryAfterSeconds: parseRetryAfter(headers?.get('retry-after') ?? null),
    })
  }
  return new ERRORS_BY_CODE[code](message, options)
}

/** The error for an answer the client could not read (the server broke its own contract). */
export function errorFromUnreadableResponse(status: number, cause: unknown): SessionRuntimeError {
  return new InternalError(`the server's answer (${status}) could not be read`, { status, cause })
}

/** The error for a request that never got an answer (offline, refused, reset, aborted). */
export function networkErrorFrom(cause: unknown, what: string): NetworkError {
  const reason = cause instanceof Error ? cause.message : String(cause)
  return new NetworkError(`${what}: the server could not be reached (${reason})`, { cause })
}
