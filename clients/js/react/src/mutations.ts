/**
 * The contract's mutation hooks: TanStack Query v5 `useMutation` over the client's operations.
 * Each invalidates what the contract says on success (`sessionKeys.detail(projectId,
 * sessionId)` and `sessionKeys.list(projectId)`; create: the list, and it seeds the detail with
 * the new session). Failures are already reported by the client with `{domain: 'session',
 * action}`: the hooks do not report them a second time.
 */
import { useMutation, useQueryClient, type UseMutationResult } from '@tanstack/react-query'
import {
  sessionKeys,
  type AbandonSessionInput,
  type CompleteSessionInput,
  type CreateSessionInput,
  type CreateSessionResult,
  type Session,
  type SessionRuntimeError,
  type UpdateSessionProgressInput,
} from '@session-runtime/client'
import { useSessionRuntimeClient } from './provider'

/** Start a session; resolves to `{sessionId, session}`. */
export function useCreateSession(): UseMutationResult<
  CreateSessionResult,
  SessionRuntimeError,
  CreateSessionInput
> {
  const client = useSessionRuntimeClient()
  const queryClient = useQueryClient()
  return useMutation<CreateSessionResult, SessionRuntimeError, CreateSessionInput>({
    mutationFn: (input) => client.createSession(input),
    onSuccess: async (result, input) => {
      queryClient.setQueryData(
        sessionKeys.detail(input.projectId, result.sessionId),
        result.session,
      )
      await queryClient.invalidateQueries({ queryKey: sessionKeys.list(input.projectId) })
    },
  })
}

/** The shared body of the three hooks that write one session and resolve to nothing. */
function useSessionWrite<Input extends { sessionId: string }>(
  projectId: string,
  write: (input: Input) => Promise<Session>,
): UseMutationResult<void, SessionRuntimeError, Input> {
  const queryClient = useQueryClient()
  return useMutation<void, SessionRuntimeError, Input>({
    mutationFn: async (input) => {
      await write(input)
    },
    onSuccess: async (_nothing, input) => {
      await Promise.all([
        queryClient.invalidateQueries({ queryKey: sessionKeys.detail(projectId, input.sessionId) }),
        queryClient.invalidateQueries({ queryKey: sessionKeys.list(projectId) }),
      ])
    },
  })
}

/** Record progress: `inputs`/`outputs` deep-merge, `currentStepIndex` replaces. */
export function useUpdateSessionProgress(
  projectId: string,
): UseMutationResult<void, SessionRuntimeError, UpdateSessionProgressInput> {
  const client = useSessionRuntimeClient()
  return useSessionWrite(projectId, (input: UpdateSessionProgressInput) =>
    client.updateSessionProgress(projectId, input),
  )
}

/** Mark the session completed. */
export function useCompleteSession(
  projectId: string,
): UseMutationResult<void, SessionRuntimeError, CompleteSessionInput> {
  const client = useSessionRuntimeClient()
  return useSessionWrite(projectId, (input: CompleteSessionInput) =>
    client.completeSession(projectId, input),
  )
}

/** Mark the session abandoned (the input may carry a `reason`). */
export function useAbandonSession(
  projectId: string,
): UseMutationResult<void, SessionRuntimeError, AbandonSessionInput> {
  const client = useSessionRuntimeClient()
  return useSessionWrite(projectId, (input: AbandonSessionInput) =>
    client.abandonSession(projectId, input),
  )
}
