/**
 * `useSubscribeSession(sessionId | null)`: one session, live. Every snapshot is written into the
 * query cache at `sessionKeys.detail(projectId, sessionId)`, so `useQuery` readers of that key
 * see it too. `null` disables it (session null, not loading); the stream is closed on unmount and
 * whenever the id (or project) changes.
 */
import { useQueryClient } from '@tanstack/react-query'
import { sessionKeys, type Session } from '@session-runtime/client'
import { useEffect, useState } from 'react'
import { useSessionRuntimeClient, useSessionRuntimeProjectId } from './provider'

export interface SubscribeSessionResult {
  /** The latest snapshot, or null while loading, when disabled, or after a refusal. */
  session: Session | null
  /** True until the first snapshot (or a refusal) arrives for the current id. */
  isLoading: boolean
  /** The last refusal or lost connection; cleared by the next snapshot. */
  error: Error | null
}

interface SubscriptionState extends SubscribeSessionResult {
  key: string | null
}

export function useSubscribeSession(
  sessionId: string | null,
  options: { projectId?: string } = {},
): SubscribeSessionResult {
  const client = useSessionRuntimeClient()
  const queryClient = useQueryClient()
  const providerProjectId = useSessionRuntimeProjectId()
  const projectId = options.projectId ?? providerProjectId
  const key = sessionId === null || projectId === undefined ? null : `${projectId}/${sessionId}`
  const [state, setState] = useState<SubscriptionState>({
    key: null,
    session: null,
    isLoading: false,
    error: null,
  })

  useEffect(() => {
    if (sessionId === null) return undefined
    if (projectId === undefined) {
      setState({
        key,
        session: null,
        isLoading: false,
        error: new Error(
          'useSubscribeSession needs a projectId: give it to the provider or the hook',
        ),
      })
      return undefined
    }
    setState({ key, session: null, isLoading: true, error: null })
    const unsubscribe = client.subscribeSession(projectId, sessionId, {
      onSnapshot: (session) => {
        queryClient.setQueryData(sessionKeys.detail(projectId, sessionId), session)
        setState({ key, session, isLoading: false, error: null })
      },
      onError: (error) => {
        setState((previous) => ({
          key,
          session: previous.key === key ? previous.session : null,
          isLoading: false,
          error,
        }))
      },
    })
    return unsubscribe
  }, [client, queryClient, projectId, sessionId, key])

  if (sessionId === null) return { session: null, isLoading: false, error: null }
  // Between a new id and its effect, the previous id's state must not show.
  if (state.key !== key) return { session: null, isLoading: projectId !== undefined, error: null }
  return { session: state.session, isLoading: state.isLoading, error: state.error }
}
