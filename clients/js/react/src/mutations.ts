/**
 * The contract's mutation hooks: TanStack Query v5 mutations whose functions, retry rule and
 * invalidation are the defaults of their mutation keys (`writes.ts`), so a write restored after
 * a reload runs exactly as one made here. Each `mutate(input)` fixes the write's
 * `idempotencyKey` (and a create's `sessionId`, unless the input names one) in its variables
 * before it is queued: every try of it, in this page or the next, is the same request.
 * Invalidation is the contract's: `sessionKeys.detail(projectId, sessionId)` and
 * `sessionKeys.list(projectId)`; create: the list, and it seeds the detail with the new session.
 * Failures are already reported by the client with `{domain: 'session', action}`.
 */
import { useMutation, type MutateOptions, type UseMutationResult } from '@tanstack/react-query'
import {
  newIdempotencyKey,
  newSessionId,
  type AbandonSessionInput,
  type CompleteSessionInput,
  type CreateSessionInput,
  type CreateSessionResult,
  type SessionRuntimeError,
  type UpdateSessionProgressInput,
} from '@session-runtime/client'
import { useCallback } from 'react'
import {
  sessionWriteKeys,
  type AbandonSessionVariables,
  type CompleteSessionVariables,
  type CreateSessionVariables,
  type SessionWriteVariables,
  type UpdateSessionProgressVariables,
} from './writes'

/** A mutation whose `mutate` takes the contract's input; its `variables` are the keyed write. */
export type SessionWriteMutation<Data, Input, Variables> = Omit<
  UseMutationResult<Data, SessionRuntimeError, Variables>,
  'mutate' | 'mutateAsync'
> & {
  mutate: (input: Input, options?: MutateOptions<Data, SessionRuntimeError, Variables>) => void
  mutateAsync: (
    input: Input,
    options?: MutateOptions<Data, SessionRuntimeError, Variables>,
  ) => Promise<Data>
}

function useKeyedMutation<Data, Input, Variables>(
  mutationKey: readonly string[],
  keyed: (input: Input) => Variables,
): SessionWriteMutation<Data, Input, Variables> {
  const mutation = useMutation<Data, SessionRuntimeError, Variables>({ mutationKey })
  const { mutate, mutateAsync } = mutation
  const keyedMutate = useCallback(
    (input: Input, options?: MutateOptions<Data, SessionRuntimeError, Variables>) =>
      options === undefined ? mutate(keyed(input)) : mutate(keyed(input), options),
    [mutate, keyed],
  )
  const keyedMutateAsync = useCallback(
    (input: Input, options?: MutateOptions<Data, SessionRuntimeError, Variables>) =>
      options === undefined ? mutateAsync(keyed(input)) : mutateAsync(keyed(input), options),
    [mutateAsync, keyed],
  )
  return { ...mutation, mutate: keyedMutate, mutateAsync: keyedMutateAsync }
}

function keyedCreate(input: CreateSessionInput): CreateSessionVariables {
  return {
    ...input,
    sessionId: input.sessionId ?? newSessionId(),
    idempotencyKey: newIdempotencyKey(),
  }
}

/** Start a session; resolves to `{sessionId, session}`. Pass `sessionId: newSessionId()` to
 * know the id before the server answers (offline, it may answer much later). */
export function useCreateSession(): SessionWriteMutation<
  CreateSessionResult,
  CreateSessionInput,
  CreateSessionVariables
> {
  return useKeyedMutation(sessionWriteKeys.create, keyedCreate)
}

/** The keyed variables of a write to one session of `projectId`, made anew when it changes. */
function useKeyedSessionWrite<Input>(
  projectId: string,
): (input: Input) => SessionWriteVariables<Input> {
  return useCallback(
    (input: Input) => ({ ...input, projectId, idempotencyKey: newIdempotencyKey() }),
    [projectId],
  )
}

/** Record progress: `inputs`/`outputs` deep-merge, `currentStepIndex` replaces. */
export function useUpdateSessionProgress(
  projectId: string,
): SessionWriteMutation<void, UpdateSessionProgressInput, UpdateSessionProgressVariables> {
  return useKeyedMutation(
    sessionWriteKeys.update,
    useKeyedSessionWrite<UpdateSessionProgressInput>(projectId),
  )
}

/** Mark the session completed. */
export function useCompleteSession(
  projectId: string,
): SessionWriteMutation<void, CompleteSessionInput, CompleteSessionVariables> {
  return useKeyedMutation(
    sessionWriteKeys.complete,
    useKeyedSessionWrite<CompleteSessionInput>(projectId),
  )
}

/** Mark the session abandoned (the input may carry a `reason`). */
export function useAbandonSession(
  projectId: string,
): SessionWriteMutation<void, AbandonSessionInput, AbandonSessionVariables> {
  return useKeyedMutation(
    sessionWriteKeys.abandon,
    useKeyedSessionWrite<AbandonSessionInput>(projectId),
  )
}
