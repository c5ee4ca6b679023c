/**
 * The contract's hooks against the real server: results, invalidation of `sessionKeys.detail`
 * and `sessionKeys.list`, errors and their reports, and the live subscription written into the
 * query cache, with cleanup on a new id and on unmount.
 */
import { QueryClient, useQuery } from '@tanstack/react-query'
import { act, configure, renderHook, waitFor } from '@testing-library/react'
import type { ReactNode } from 'react'
import { afterEach, describe, expect, it } from 'vitest'
import { inject } from 'vitest'
import {
  NotFoundError,
  PermissionDeniedError,
  ValidationError,
  createSessionRuntimeClient,
  type ErrorReporter,
  type Session,
} from '@session-runtime/client'
import {
  SessionRuntimeProvider,
  sessionKeys,
  useAbandonSession,
  useCompleteSession,
  useCreateSession,
  useSessionRuntimeClient,
  useSubscribeSession,
  useUpdateSessionProgress,
} from '../src'

const server = inject('server')

// The machine may be busy: wait for conditions long enough (they are polled, not slept on).
configure({ asyncUtilTimeout: 15_000 })
const projectId = server.projectId

function createInput() {
  return {
    projectId,
    eventId: server.eventId,
    experienceId: server.experienceId,
    mode: 'guest' as const,
    configSource: 'published' as const,
  }
}

const guestClient = createSessionRuntimeClient({
  baseUrl: server.baseUrl,
  getToken: () => server.guestToken,
})

interface Harness {
  queryClient: QueryClient
  reports: { error: unknown; tags: Record<string, string> | undefined }[]
  eventStreams: { url: string; signal: AbortSignal | null }[]
  wrapper: (props: { children: ReactNode }) => ReactNode
}

const queryClients: QueryClient[] = []

function harness(token: string = server.guestToken): Harness {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } })
  queryClients.push(queryClient)
  const reports: Harness['reports'] = []
  const reporter: ErrorReporter = {
    captureException: (error, hint) => reports.push({ error, tags: hint?.tags }),
  }
  const eventStreams: Harness['eventStreams'] = []
  const recordingFetch: typeof fetch = (input, init) => {
    if (String(input).endsWith('/events')) {
      eventStreams.push({ url: String(input), signal: init?.signal ?? null })
    }
    return fetch(input, init)
  }
  const getToken = () => token
  return {
    queryClient,
    reports,
    eventStreams,
    wrapper: ({ children }) => (
      <SessionRuntimeProvider
        baseUrl={server.baseUrl}
        getToken={getToken}
        projectId={projectId}
        queryClient={queryClient}
        reporter={reporter}
        fetch={recordingFetch}
      >
        {children}
      </SessionRuntimeProvider>
    ),
  }
}

afterEach(() => {
  for (const queryClient of queryClients.splice(0)) queryClient.clear()
})

/** A detail and a list query, as an app's screens would hold them, counting their fetches. */
function useWatchedQueries(sessionId: string, counts: { detail: number; list: number }) {
  const client = useSessionRuntimeClient()
  const detail = useQuery({
    queryKey: sessionKeys.detail(projectId, sessionId),
    queryFn: () => {
      counts.detail += 1
      return client.getSession(projectId, sessionId)
    },
    staleTime: Infinity,
    // The test reads results after render, so TanStack's tracking of what a render read
    // would see nothing: re-render on every change.
    notifyOnChangeProps: 'all',
  })
  const list = useQuery({
    queryKey: sessionKeys.list(projectId),
    queryFn: () => {
      counts.list += 1
      return client.listSessions(projectId, { limit: 500 })
    },
    staleTime: Infinity,
    notifyOnChangeProps: 'all',
  })
  return { detail, list, counts }
}

async function watched(sessionId: string, wrapper: Harness['wrapper']) {
  const counts = { detail: 0, list: 0 }
  const rendered = renderHook(() => useWatchedQueries(sessionId, counts), { wrapper })
  await waitFor(() =>
    expect(rendered.result.current.detail.isSuccess && rendered.result.current.list.isSuccess).toBe(
      true,
    ),
  )
  return rendered
}

describe('useCreateSession', () => {
  it('resolves to {sessionId, session}, seeds the detail and refetches the list', async () => {
    const { wrapper, queryClient } = harness()
    const { sessionId: existing } = await guestClient.createSession(createInput())
    const queries = await watched(existing, wrapper)
    const listFetches = queries.result.current.counts.list
    const { result } = renderHook(() => useCreateSession(), { wrapper })
    let created: Awaited<ReturnType<typeof result.current.mutateAsync>> | undefined
    await act(async () => {
      created = await result.current.mutateAsync(createInput())
    })
    expect(created?.sessionId).toBe(created?.session.id)
    expect(created?.session).toMatchObject({ status: 'active', currentStepIndex: 0, version: 1 })
    expect(
      queryClient.getQueryData(sessionKeys.detail(projectId, created?.sessionId ?? '')),
    ).toEqual(created?.session)
    await waitFor(() => expect(queries.result.current.counts.list).toBeGreaterThan(listFetches))
    await waitFor(() =>
      expect(queries.result.current.list.data?.items.map((session) => session.id)).toContain(
        created?.sessionId,
      ),
    )
  })
})

describe('the write hooks', () => {
  const writes = [
    [
      'useUpdateSessionProgress',
      (sessionId: string) => ({ sessionId, currentStepIndex: 2 }),
      'active',
    ],
    ['useCompleteSession', (sessionId: string) => ({ sessionId }), 'completed'],
    ['useAbandonSession', (sessionId: string) => ({ sessionId, reason: 'left' }), 'abandoned'],
  ] as const

  it.each(writes)(
    '%s resolves to nothing and refetches the detail and the list',
    async (hookName, input, status) => {
      const { wrapper } = harness()
      const { sessionId } = await guestClient.createSession(createInput())
      const queries = await watched(sessionId, wrapper)
      const before = { ...queries.result.current.counts }
      const { result } = renderHook(
        () => {
          const hooks = {
            useUpdateSessionProgress: useUpdateSessionProgress(projectId),
            useCompleteSession: useCompleteSession(projectId),
            useAbandonSession: useAbandonSession(projectId),
          }
          return hooks[hookName]
        },
        { wrapper },
      )
      let resolved: unknown = 'not yet'
      await act(async () => {
        resolved = await (result.current.mutateAsync as (value: unknown) => Promise<void>)(
          input(sessionId),
        )
      })
      expect(resolved).toBeUndefined()
      await waitFor(() => expect(queries.result.current.detail.data?.version).toBe(2))
      expect(queries.result.current.detail.data?.status).toBe(status)
      expect(queries.result.current.counts.detail).toBeGreaterThan(before.detail)
      await waitFor(() => expect(queries.result.current.counts.list).toBeGreaterThan(before.list))
      await waitFor(() =>
        expect(
          queries.result.current.list.data?.items.find((session) => session.id === sessionId)
            ?.version,
        ).toBe(2),
      )
    },
  )

  it('a refusal is the mutation error, reported once with its action, and invalidates nothing', async () => {
    const { sessionId } = await guestClient.createSession(createInput())
    const { wrapper, reports } = harness(server.otherGuestToken)
    const { result } = renderHook(() => useCompleteSession(projectId), { wrapper })
    await act(async () => {
      await result.current.mutateAsync({ sessionId }).catch(() => {})
    })
    await waitFor(() => expect(result.current.isError).toBe(true))
    expect(result.current.error).toBeInstanceOf(PermissionDeniedError)
    expect(result.current.error?.code).toBe('PERMISSION_DENIED')
    expect(reports).toEqual([
      { error: result.current.error, tags: { domain: 'session', action: 'complete' } },
    ])
  })

  it('a Zod refusal is a VALIDATION_ERROR of the mutation, reported with its action', async () => {
    const { wrapper, reports } = harness()
    const { result } = renderHook(() => useUpdateSessionProgress(projectId), { wrapper })
    await act(async () => {
      await result.current.mutateAsync({ sessionId: 's', currentStepIndex: -2 }).catch(() => {})
    })
    await waitFor(() => expect(result.current.isError).toBe(true))
    expect(result.current.error).toBeInstanceOf(ValidationError)
    expect(reports.map((report) => report.tags)).toEqual([{ domain: 'session', action: 'update' }])
  })
})

describe('useSubscribeSession', () => {
  it('null disables it: no session, not loading, no stream', async () => {
    const { wrapper, eventStreams } = harness()
    const { result } = renderHook(() => useSubscribeSession(null), { wrapper })
    expect(result.current).toEqual({ session: null, isLoading: false, error: null })
    await act(async () => {})
    expect(eventStreams).toEqual([])
  })

  it('loads, follows every change into the query cache, and closes on unmount', async () => {
    const { wrapper, queryClient, eventStreams } = harness()
    const { sessionId } = await guestClient.createSession(createInput())
    const { result, unmount } = renderHook(() => useSubscribeSession(sessionId), { wrapper })
    expect(result.current.isLoading).toBe(true)
    expect(result.current.session).toBeNull()
    await waitFor(() => expect(result.current.session?.version).toBe(1))
    expect(result.current.isLoading).toBe(false)

    const seen: number[] = []
    const unsubscribeCache = queryClient.getQueryCache().subscribe(() => {
      const cached = queryClient.getQueryData<Session>(sessionKeys.detail(projectId, sessionId))
      if (cached !== undefined && seen.at(-1) !== cached.version) seen.push(cached.version)
    })
    await guestClient.updateSessionProgress(projectId, {
      sessionId,
      currentStepIndex: 1,
      inputs: { name: 'Ada' },
    })
    await waitFor(() => expect(result.current.session?.version).toBe(2))
    expect(result.current.session?.inputs).toEqual({ name: 'Ada' })
    expect(queryClient.getQueryData(sessionKeys.detail(projectId, sessionId))).toEqual(
      result.current.session,
    )
    await guestClient.completeSession(projectId, { sessionId })
    await waitFor(() => expect(result.current.session?.status).toBe('completed'))
    expect(seen).toEqual([2, 3])
    unsubscribeCache()

    expect(eventStreams).toHaveLength(1)
    unmount()
    expect(eventStreams[0]?.signal?.aborted).toBe(true)
  })

  it('a new id closes the old stream and follows the new session only', async () => {
    const { wrapper, eventStreams } = harness()
    const first = (await guestClient.createSession(createInput())).sessionId
    const second = (await guestClient.createSession(createInput())).sessionId
    const { result, rerender } = renderHook(
      ({ id }: { id: string | null }) => useSubscribeSession(id),
      {
        wrapper,
        initialProps: { id: first as string | null },
      },
    )
    await waitFor(() => expect(result.current.session?.id).toBe(first))
    rerender({ id: second })
    // The old session never shows under the new id, even before the new stream answers.
    expect(result.current.session?.id ?? null).not.toBe(first)
    await waitFor(() => expect(result.current.session?.id).toBe(second))
    expect(eventStreams).toHaveLength(2)
    expect(eventStreams[0]?.url).toContain(first)
    expect(eventStreams[0]?.signal?.aborted).toBe(true)
    expect(eventStreams[1]?.signal?.aborted).toBe(false)

    await guestClient.updateSessionProgress(projectId, { sessionId: first, currentStepIndex: 5 })
    await guestClient.updateSessionProgress(projectId, { sessionId: second, currentStepIndex: 7 })
    await waitFor(() => expect(result.current.session?.currentStepIndex).toBe(7))
    expect(result.current.session?.id).toBe(second)

    rerender({ id: null })
    expect(result.current).toEqual({ session: null, isLoading: false, error: null })
    expect(eventStreams[1]?.signal?.aborted).toBe(true)
  })

  it('a refused subscription gives its error and stops loading', async () => {
    const { wrapper, reports } = harness()
    const { result } = renderHook(() => useSubscribeSession('no-such-session'), { wrapper })
    await waitFor(() => expect(result.current.error).toBeInstanceOf(NotFoundError))
    expect(result.current).toMatchObject({ session: null, isLoading: false })
    expect(reports.map((report) => report.tags)).toEqual([
      { domain: 'session', action: 'subscribe' },
    ])
  })

  it('takes another project from its options', async () => {
    const { wrapper } = harness()
    const { sessionId } = await guestClient.createSession(createInput())
    const { result } = renderHook(
      () => useSubscribeSession(sessionId, { projectId: 'another-project' }),
      {
        wrapper,
      },
    )
    await waitFor(() => expect(result.current.error).not.toBeNull())
    expect(result.current.session).toBeNull()
  })
})

describe('SessionRuntimeProvider', () => {
  it('a new getToken on every render keeps the stream open and the newest getter is used', async () => {
    const { sessionId } = await guestClient.createSession(createInput())
    const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } })
    queryClients.push(queryClient)
    const eventStreams: (AbortSignal | null)[] = []
    const recordingFetch: typeof fetch = (input, init) => {
      if (String(input).endsWith('/events')) eventStreams.push(init?.signal ?? null)
      return fetch(input, init)
    }
    let token = server.guestToken
    function Wrapper({ children }: { children: ReactNode }) {
      return (
        <SessionRuntimeProvider
          baseUrl={server.baseUrl}
          getToken={() => token}
          projectId={projectId}
          queryClient={queryClient}
          fetch={recordingFetch}
        >
          {children}
        </SessionRuntimeProvider>
      )
    }
    const { result, rerender } = renderHook(
      () => ({ live: useSubscribeSession(sessionId), complete: useCompleteSession(projectId) }),
      { wrapper: Wrapper },
    )
    await waitFor(() => expect(result.current.live.session?.version).toBe(1))
    token = server.otherGuestToken
    rerender()
    rerender()
    await act(async () => {
      await result.current.complete.mutateAsync({ sessionId }).catch(() => {})
    })
    // The other guest may not complete the first guest's session: the new token was sent.
    await waitFor(() => expect(result.current.complete.error).toBeInstanceOf(PermissionDeniedError))
    expect(eventStreams).toHaveLength(1)
    expect(eventStreams[0]?.aborted).toBe(false)
  })
})
