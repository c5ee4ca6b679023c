/**
 * The session writes as TanStack Query mutation defaults, one per mutation key, registered on
 * the provider's query client. Whatever runs a write (a hook, or TanStack Query resuming a
 * paused mutation restored after a page reload, which has no hook and no closure) finds its
 * function, its retry rule and its cache invalidation here, by the key alone.
 *
 * A write's variables carry everything it needs to be sent again as the same request: the
 * project, its `idempotencyKey` and (create) its `sessionId`, made once when the write is made.
 */
import type { QueryClient } from '@tanstack/react-query'
import {
  isRetryableFailure,
  sessionKeys,
  writeRetryDelay,
  type AbandonSessionInput,
  type CompleteSessionInput,
  type CreateSessionInput,
  type CreateSessionResult,
  type SessionRuntimeClient,
  type SessionRuntimeError,
  type UpdateSessionProgressInput,
} from '@session-runtime/client'

/** The mutation keys of the session writes. */
export const sessionWriteKeys = {
  create: ['session-runtime', 'create'],
  update: ['session-runtime', 'update'],
  complete: ['session-runtime', 'complete'],
  abandon: ['session-runtime', 'abandon'],
} as const

/** A create as it is queued: its session id and key are fixed before the first try. */
export type CreateSessionVariables = CreateSessionInput & {
  sessionId: string
  idempotencyKey: string
}

/** A write to one session as it is queued: the contract's input, its project and its key. */
export type SessionWriteVariables<Input> = Input & { projectId: string; idempotencyKey: string }

export type UpdateSessionProgressVariables = SessionWriteVariables<UpdateSessionProgressInput>
export type CompleteSessionVariables = SessionWriteVariables<CompleteSessionInput>
export type AbandonSessionVariables = SessionWriteVariables<AbandonSessionInput>

/** One scope for every write: they run one after another, in the order they were made, so a
 * create lands before the progress written to its session offline. A write that fails for good
 * ends, and the next one runs. */
const WRITES_SCOPE = { id: 'session-runtime:writes' }

export interface SessionWriteRules {
  /** Offline mode: retry lost connections, 503 and 429 with backoff for as long as it takes. */
  isOffline: boolean
  /** Told of every write refused for good (it is dropped; the writes behind it go on). */
  onWriteRefused?: ((error: SessionRuntimeError, variables: unknown) => void) | undefined
}

/** Register the session writes' defaults on `queryClient` for `client`. */
export function registerSessionWrites(
  queryClient: QueryClient,
  client: SessionRuntimeClient,
  rules: SessionWriteRules,
): void {
  const shared = {
    networkMode: 'online' as const,
    retry: rules.isOffline
      ? (_failureCount: number, error: SessionRuntimeError) => isRetryableFailure(error)
      : false,
    retryDelay: writeRetryDelay,
    ...(rules.isOffline ? { scope: WRITES_SCOPE } : {}),
    onError: (error: SessionRuntimeError, variables: unknown) => {
      if (!isRetryableFailure(error)) rules.onWriteRefused?.(error, variables)
    },
  }

  async function invalidateSession(projectId: string, sessionId: string): Promise<void> {
    await Promise.all([
      queryClient.invalidateQueries({ queryKey: sessionKeys.detail(projectId, sessionId) }),
      queryClient.invalidateQueries({ queryKey: sessionKeys.list(projectId) }),
    ])
  }

  queryClient.setMutationDefaults(sessionWriteKeys.create, {
    ...shared,
    mutationFn: async (variables: CreateSessionVariables): Promise<CreateSessionResult> => {
      const { idempotencyKey, ...input } = variables
      return client.createSession(input, { idempotencyKey })
    },
    onSuccess: async (result: CreateSessionResult, variables: CreateSessionVariables) => {
      queryClient.setQueryData(
        sessionKeys.detail(variables.projectId, result.sessionId),
        result.session,
      )
      await queryClient.invalidateQueries({ queryKey: sessionKeys.list(variables.projectId) })
    },
  })

  queryClient.setMutationDefaults(sessionWriteKeys.update, {
    ...shared,
    mutationFn: async (variables: UpdateSessionProgressVariables): Promise<void> => {
      const { projectId, idempotencyKey, ...input } = variables
      await client.updateSessionProgress(projectId, input, { idempotencyKey })
    },
    onSuccess: (_nothing: void, variables: UpdateSessionProgressVariables) =>
      invalidateSession(variables.projectId, variables.sessionId),
  })

  queryClient.setMutationDefaults(sessionWriteKeys.complete, {
    ...shared,
    mutationFn: async (variables: CompleteSessionVariables): Promise<void> => {
      const { projectId, idempotencyKey, ...input } = variables
      await client.completeSession(projectId, input, { idempotencyKey })
    },
    onSuccess: (_nothing: void, variables: CompleteSessionVariables) =>
      invalidateSession(variables.projectId, variables.sessionId),
  })

  queryClient.setMutationDefaults(sessionWriteKeys.abandon, {
    ...shared,
    mutationFn: async (variables: AbandonSessionVariables): Promise<void> => {
      const { projectId, idempotencyKey, ...input } = variables
      await client.abandonSession(projectId, input, { idempotencyKey })
    },
    onSuccess: (_nothing: void, variables: AbandonSessionVariables) =>
      invalidateSession(variables.projectId, variables.sessionId),
  })
}
