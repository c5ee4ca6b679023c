/**
 * `@session-runtime/client`: the session operations of session-runtime over `fetch`, one session
 * live over SSE, many over one WebSocket, typed errors and the contract's Zod schemas.
 * Framework-free; `@session-runtime/react` binds it to React and TanStack Query.
 */
export { createSessionRuntimeClient } from './client'
export type { SessionRuntimeClient, SessionRuntimeClientOptions, WriteOptions } from './client'
export { isRetryableFailure, newIdempotencyKey, newSessionId, writeRetryDelay } from './offline'
export type { ErrorReporter, SessionAction } from './reporter'
export type { SessionListener, Unsubscribe } from './subscription'
export type { ProjectListener, SessionSocket } from './socket'
export type { ReconnectOptions } from './backoff'
export type { TokenGetter } from './transport'
export {
  FailedPreconditionError,
  InternalError,
  MethodNotAllowedError,
  NetworkError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  SessionRuntimeError,
  UnauthenticatedError,
  UnavailableError,
  ValidationError,
} from './errors'
export type { ErrorCode, ValidationIssue } from './errors'
export { sessionKeys } from './queryKeys'
export {
  abandonSessionInputSchema,
  clientSessionIdSchema,
  completeSessionInputSchema,
  configSourceSchema,
  createSessionInputSchema,
  failSessionInputSchema,
  idempotencyKeySchema,
  mediaReferenceSchema,
  sessionListFiltersSchema,
  sessionModeSchema,
  sessionStatusSchema,
  updateSessionProgressInputSchema,
} from './schemas'
export type {
  AbandonSessionInput,
  CompleteSessionInput,
  ConfigSource,
  CreateSessionInput,
  CreateSessionResult,
  ErrorBody,
  FailSessionInput,
  MediaReference,
  Session,
  SessionList,
  SessionListFilters,
  SessionMode,
  SessionStatus,
  UpdateSessionProgressInput,
} from './types'
export type { components, paths } from './generated/openapi'
