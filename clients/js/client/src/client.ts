/**
 * `createSessionRuntimeClient`: every session operation of the contract over `fetch`, each input
 * checked by its Zod schema before any request, each failure raised from the one error tree and
 * reported once to the optional `reporter` with the tags `{domain: 'session', action}`.
 *
 * ```ts
 * const client = createSessionRuntimeClient({
 *   baseUrl: 'http://127.0.0.1:8000',
 *   getToken: () => sessionStorage.getItem('token'),
 *   reporter: Sentry,
 * })
 * const { sessionId } = await client.createSession({ projectId, eventId, experienceId,
 *   mode: 'guest', configSource: 'published' })
 * await client.updateSessionProgress(projectId, { sessionId, currentStepIndex: 1 })
 * ```
 */
import type { ReconnectOptions } from './backoff'
import type { ValidationError } from './errors'
import { reportFailure, type ErrorReporter, type SessionAction } from './reporter'
import {
  abandonSessionInputSchema,
  completeSessionInputSchema,
  createSessionInputSchema,
  failSessionInputSchema,
  idempotencyKeySchema,
  projectIdSchema,
  sessionIdSchema,
  sessionListFiltersSchema,
  updateSessionProgressInputSchema,
  versionSchema,
} from './schemas'
import { openSessionSocket, type SessionSocket } from './socket'
import { subscribeSessionEvents, type SessionListener, type Unsubscribe } from './subscription'
import { Transport, sessionPath, type TokenGetter } from './transport'
import type {
  AbandonSessionInput,
  CompleteSessionInput,
  CreateSessionInput,
  CreateSessionResult,
  FailSessionInput,
  Session,
  SessionList,
  SessionListFilters,
  UpdateSessionProgressInput,
} from './types'
import { validate } from './validation'

/** What every write may carry: the key that makes sending it again safe. */
export interface WriteOptions {
  /** Sent as `Idempotency-Key`: the same key with the same request is applied once, however
   * often it is sent (make one with `newIdempotencyKey()` when the write is made, not per try). */
  idempotencyKey?: string
}

/** The `Idempotency-Key` header of a write, checked before any request. */
function keyHeaders(options: WriteOptions | undefined): Record<string, string> {
  const key = options?.idempotencyKey
  if (key === undefined) return {}
  return { 'idempotency-key': validate(idempotencyKeySchema, key, 'idempotencyKey') }
}

export interface SessionRuntimeClientOptions {
  /** Where the server is: `"http://127.0.0.1:8000"` (a trailing slash is fine). */
  baseUrl: string
  /** Called before every request and every (re)connect, so a page can refresh its token.
   * `null` sends no token (the server answers `UNAUTHENTICATED`). */
  getToken: TokenGetter
  /** Every failed operation: `reporter.captureException(error, { tags: { domain: 'session',
   * action } })`. Pass Sentry (`import * as Sentry from '@sentry/browser'`); none: no reports. */
  reporter?: ErrorReporter
  /** Defaults to `globalThis.fetch`. */
  fetch?: typeof fetch
  /** Defaults to `globalThis.WebSocket` (on Node 20, pass the `ws` package's). */
  WebSocket?: typeof WebSocket
  /** The backoff of subscriptions that reconnect (SSE and WebSocket). */
  reconnect?: ReconnectOptions
}

export interface SessionRuntimeClient {
  /** Start a session: `status` active, `currentStepIndex` 0, `version` 1. Action `create`. */
  createSession(input: CreateSessionInput, options?: WriteOptions): Promise<CreateSessionResult>
  /** One session as stored. Action `get`. */
  getSession(projectId: string, sessionId: string): Promise<Session>
  /** A page of the project's sessions, newest first (`nextCursor` for the next). Action `list`. */
  listSessions(projectId: string, filters?: SessionListFilters): Promise<SessionList>
  /** Deep-merge `inputs`/`outputs`, replace `currentStepIndex`; with `ifMatchVersion`, only if
   * the stored version is that one (else `FailedPreconditionError`). Action `update`. */
  updateSessionProgress(
    projectId: string,
    input: UpdateSessionProgressInput,
    options?: WriteOptions & { ifMatchVersion?: number },
  ): Promise<Session>
  /** Mark it completed; repeating it is a harmless no-op. Action `complete`. */
  completeSession(
    projectId: string,
    input: CompleteSessionInput,
    options?: WriteOptions,
  ): Promise<Session>
  /** Mark it abandoned, with an optional `reason`; safe to retry. Action `abandon`. */
  abandonSession(
    projectId: string,
    input: AbandonSessionInput,
    options?: WriteOptions,
  ): Promise<Session>
  /** Mark it failed (status `error`) with a `reason`. Action `fail`. */
  failSession(projectId: string, input: FailSessionInput, options?: WriteOptions): Promise<Session>
  /** Follow one session over SSE: the current snapshot, then each change; reconnects by
   * itself. Action `subscribe`. */
  subscribeSession(projectId: string, sessionId: string, listener: SessionListener): Unsubscribe
  /** One WebSocket for many subscriptions (sessions and whole projects). */
  openSocket(): SessionSocket
}

/** Build a client; nothing is sent until an operation is called. */
export function createSessionRuntimeClient(
  options: SessionRuntimeClientOptions,
): SessionRuntimeClient {
  const transport = new Transport(options)
  const { reporter } = options
  const reconnect = options.reconnect ?? {}

  /** Run one operation; its failure is reported once and thrown as it is. */
  async function operation<Result>(
    action: SessionAction,
    body: () => Promise<Result>,
  ): Promise<Result> {
    try {
      return await body()
    } catch (error) {
      reportFailure(reporter, error, action)
      throw error
    }
  }

  return {
    createSession: (input, writeOptions) =>
      operation('create', () => {
        const checked = validate(createSessionInputSchema, input, 'createSession input')
        return transport.json<CreateSessionResult>({
          method: 'POST',
          path: sessionPath(checked.projectId),
          body: checked,
          headers: keyHeaders(writeOptions),
        })
      }),

    getSession: (projectId, sessionId) =>
      operation('get', () => {
        const path = sessionPath(
          validate(projectIdSchema, projectId, 'projectId'),
          validate(sessionIdSchema, sessionId, 'sessionId'),
        )
        return transport.json<Session>({ method: 'GET', path })
      }),

    listSessions: (projectId, filters = {}) =>
      operation('list', () => {
        const path = sessionPath(validate(projectIdSchema, projectId, 'projectId'))
        const query = validate(sessionListFiltersSchema, filters, 'listSessions filters')
        return transport.json<SessionList>({ method: 'GET', path, query })
      }),

    updateSessionProgress: (projectId, input, updateOptions = {}) =>
      operation('update', () => {
        const { sessionId, ...progress } = validate(
          updateSessionProgressInputSchema,
          input,
          'updateSessionProgress input',
        )
        const headers = keyHeaders(updateOptions)
        const { ifMatchVersion } = updateOptions
        if (ifMatchVersion !== undefined) {
          validate(versionSchema, ifMatchVersion, 'ifMatchVersion')
          headers['if-match'] = `"${ifMatchVersion}"`
        }
        return transport.json<Session>({
          method: 'PATCH',
          path: sessionPath(validate(projectIdSchema, projectId, 'projectId'), sessionId),
          body: progress,
          headers,
        })
      }),

    completeSession: (projectId, input, writeOptions) =>
      operation('complete', () => {
        const { sessionId } = validate(completeSessionInputSchema, input, 'completeSession input')
        return transport.json<Session>({
          method: 'POST',
          path: sessionPath(
            validate(projectIdSchema, projectId, 'projectId'),
            sessionId,
            'complete',
          ),
          headers: keyHeaders(writeOptions),
        })
      }),

    abandonSession: (projectId, input, writeOptions) =>
      operation('abandon', () => {
        const { sessionId, ...rest } = validate(
          abandonSessionInputSchema,
          input,
          'abandonSession input',
        )
        return transport.json<Session>({
          method: 'POST',
          path: sessionPath(
            validate(projectIdSchema, projectId, 'projectId'),
            sessionId,
            'abandon',
          ),
          body: rest,
          headers: keyHeaders(writeOptions),
        })
      }),

    failSession: (projectId, input, writeOptions) =>
      operation('fail', () => {
        const { sessionId, reason } = validate(failSessionInputSchema, input, 'failSession input')
        return transport.json<Session>({
          method: 'POST',
          path: sessionPath(validate(projectIdSchema, projectId, 'projectId'), sessionId, 'fail'),
          body: { reason },
          headers: keyHeaders(writeOptions),
        })
      }),

    subscribeSession: (projectId, sessionId, listener) => {
      try {
        validate(projectIdSchema, projectId, 'projectId')
        validate(sessionIdSchema, sessionId, 'sessionId')
      } catch (error) {
        // A refusal like any other: told to the listener, never thrown into a render or effect.
        reportFailure(reporter, error, 'subscribe')
        listener.onError?.(error as ValidationError, { willRetry: false })
        return () => {}
      }
      return subscribeSessionEvents(
        { transport, reporter, reconnect },
        projectId,
        sessionId,
        listener,
      )
    },

    openSocket: () =>
      openSessionSocket({
        baseUrl: transport.baseUrl,
        authorizationToken: () => transport.token(),
        reporter,
        reconnect,
        WebSocket: options.WebSocket ?? globalThis.WebSocket,
      }),
  }
}
