/**
 * The provider's offline mode against the real server: writes made offline pause with their
 * keys in their variables, are persisted, survive a "reload" (a new query client restored from
 * the same storage), land once when back online, and a write refused for good is dropped and
 * reported without holding back the writes behind it.
 */
import { createAsyncStoragePersister } from '@tanstack/query-async-storage-persister'
import { QueryClient, onlineManager } from '@tanstack/react-query'
import { act, configure, renderHook, waitFor } from '@testing-library/react'
import type { ReactNode } from 'react'
import { afterEach, describe, expect, it } from 'vitest'
import { inject } from 'vitest'
import {
  NotFoundError,
  createSessionRuntimeClient,
  newSessionId,
  type SessionRuntimeError,
} from '@session-runtime/client'
import {
  SessionRuntimeProvider,
  sessionWriteKeys,
  useCreateSession,
  useUpdateSessionProgress,
} from '../src'

const server = inject('server')
configure({ asyncUtilTimeout: 15_000 })
const projectId = server.projectId
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const guestClient = createSessionRuntimeClient({
  baseUrl: server.baseUrl,
  getToken: () => server.guestToken,
})

function createInput(sessionId: string) {
  return {
    projectId,
    eventId: server.eventId,
    experienceId: server.experienceId,
    mode: 'guest' as const,
    configSource: 'published' as const,
    sessionId,
  }
}

/** A page's storage that outlives its query client, as IndexedDB outlives a reload. */
function memoryStorage(): Map<string, string> {
  return new Map<string, string>()
}

const queryClients: QueryClient[] = []

/** One "page": its own query client, restored from and persisted to `storage`. */
function page(storage: Map<string, string>, refused: SessionRuntimeError[] = []) {
  const queryClient = new QueryClient()
  queryClients.push(queryClient)
  const persister = createAsyncStoragePersister({
    storage: {
      getItem: (key: string) => storage.get(key) ?? null,
      setItem: (key: string, value: string) => {
        storage.set(key, value)
      },
      removeItem: (key: string) => {
        storage.delete(key)
      },
    },
    throttleTime: 0,
  })
  const wrapper = ({ children }: { children: ReactNode }) => (
    <SessionRuntimeProvider
      baseUrl={server.baseUrl}
      getToken={() => server.guestToken}
      projectId={projectId}
      queryClient={queryClient}
      offline={{ persister, onWriteRefused: (error) => refused.push(error) }}
    >
      {children}
    </SessionRuntimeProvider>
  )
  const writes = () => ({
    create: useCreateSession(),
    update: useUpdateSessionProgress(projectId),
  })
  return { queryClient, wrapper, writes }
}

/** The writes a storage holds, as the persister wrote them. */
function persistedWrites(storage: Map<string, string>): { state: { variables: unknown } }[] {
  const text = [...storage.values()][0]
  if (text === undefined) return []
  const persisted = JSON.parse(text) as {
    clientState: { mutations: { state: { variables: unknown } }[] }
  }
  return persisted.clientState.mutations
}

afterEach(() => {
  onlineManager.setOnline(true)
  for (const queryClient of queryClients.splice(0)) queryClient.clear()
})

describe('offline mode', () => {
  it('pauses writes made offline, with a key made once in their variables', async () => {
    onlineManager.setOnline(false)
    const { wrapper, writes, queryClient } = page(memoryStorage())
    const { result } = renderHook(writes, { wrapper })
    const sessionId = newSessionId()
    act(() => {
      result.current.create.mutate(createInput(sessionId))
      result.current.update.mutate({ sessionId, currentStepIndex: 1, inputs: { name: 'Ada' } })
    })
    await waitFor(() =>
      expect(
        queryClient
          .getMutationCache()
          .getAll()
          .map((m) => m.state.isPaused),
      ).toEqual([true, true]),
    )
    const [create, update] = queryClient.getMutationCache().getAll()
    expect(create?.options.mutationKey).toEqual(sessionWriteKeys.create)
    expect(create?.state.variables).toMatchObject({
      sessionId,
      idempotencyKey: expect.stringMatching(UUID),
    })
    expect(update?.state.variables).toMatchObject({
      sessionId,
      projectId,
      idempotencyKey: expect.stringMatching(UUID),
    })
    await expect(guestClient.getSession(projectId, sessionId)).rejects.toBeInstanceOf(NotFoundError)
  })

  it('keeps the writes and their keys across a reload, and lands them once online', async () => {
    const storage = memoryStorage()
    onlineManager.setOnline(false)
    const first = page(storage)
    const firstPage = renderHook(first.writes, { wrapper: first.wrapper })
    const sessionId = newSessionId()
    act(() => {
      firstPage.result.current.create.mutate(createInput(sessionId))
      firstPage.result.current.update.mutate({
        sessionId,
        currentStepIndex: 1,
        inputs: { name: 'Ada' },
      })
    })
    await waitFor(() => expect(persistedWrites(storage)).toHaveLength(2))
    const keysBefore = persistedWrites(storage).map((write) => write.state.variables)
    firstPage.unmount()

    const second = page(storage)
    renderHook(second.writes, { wrapper: second.wrapper })
    await waitFor(() =>
      expect(
        second.queryClient
          .getMutationCache()
          .getAll()
          .map((m) => m.state.variables),
      ).toEqual(keysBefore),
    )
    act(() => onlineManager.setOnline(true))
    await waitFor(async () => {
      const stored = await guestClient.getSession(projectId, sessionId)
      expect(stored).toMatchObject({ version: 2, currentStepIndex: 1, inputs: { name: 'Ada' } })
    })
    await waitFor(() =>
      expect(
        second.queryClient
          .getMutationCache()
          .getAll()
          .map((m) => m.state.status),
      ).toEqual(['success', 'success']),
    )
    expect((await guestClient.getSession(projectId, sessionId)).version).toBe(2)
  })

  it('drops a write refused for good, reports it, and sends the writes behind it', async () => {
    onlineManager.setOnline(false)
    const refused: SessionRuntimeError[] = []
    const { wrapper, writes, queryClient } = page(memoryStorage(), refused)
    const { result } = renderHook(writes, { wrapper })
    const sessionId = newSessionId()
    act(() => {
      // Progress on a session that will never exist: 404, which no retry can fix.
      result.current.update.mutate({ sessionId: newSessionId(), currentStepIndex: 1 })
      result.current.create.mutate(createInput(sessionId))
      result.current.update.mutate({ sessionId, inputs: { name: 'Grace' } })
    })
    act(() => onlineManager.setOnline(true))
    await waitFor(() =>
      expect(
        queryClient
          .getMutationCache()
          .getAll()
          .map((m) => m.state.status),
      ).toEqual(['error', 'success', 'success']),
    )
    expect(refused.map((error) => error.constructor)).toEqual([NotFoundError])
    const stored = await guestClient.getSession(projectId, sessionId)
    expect(stored).toMatchObject({ version: 2, inputs: { name: 'Grace' } })
  })
})
