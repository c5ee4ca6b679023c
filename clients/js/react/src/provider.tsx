/**
 * `SessionRuntimeProvider`: one client and one TanStack Query cache for the tree below it. The
 * client is made once per base URL; the token getter, the reporter and `fetch` are read through
 * refs, so a new function or object on every render (a common way to pass them) neither
 * rebuilds the client nor reopens live subscriptions, and the latest one is always used.
 *
 * `offline` turns on the offline mode (`offline.ts`): writes survive a lost connection and a
 * reload, and land once.
 */
import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import {
  PersistQueryClientProvider,
  persistQueryClientSave,
} from '@tanstack/react-query-persist-client'
import {
  createSessionRuntimeClient,
  type ErrorReporter,
  type SessionRuntimeClient,
} from '@session-runtime/client'
import {
  createContext,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  type ReactNode,
} from 'react'
import {
  DEFAULT_OFFLINE_MAX_AGE_MS,
  DEFAULT_OFFLINE_STORAGE_KEY,
  createIndexedDbPersister,
  isUnfinishedWrite,
  resumeRestoredWrites,
  startFromBrowserOnlineState,
  type OfflineOptions,
} from './offline'
import { registerSessionWrites } from './writes'

export interface SessionRuntimeProviderProps {
  /** Where the server is: `"http://127.0.0.1:8000"`. */
  baseUrl: string
  /** Called before every request and every (re)connect: a page can refresh its token. */
  getToken: () => string | null | Promise<string | null>
  /** The project the app runs in; `useSubscribeSession` uses it unless given another. */
  projectId?: string
  /** The app's own TanStack Query client; else one is created for this provider. */
  queryClient?: QueryClient
  /** Where failed operations are reported: pass Sentry (`import * as Sentry from
   * '@sentry/react'`). None: nothing is reported. */
  reporter?: ErrorReporter
  /** Defaults to `globalThis.fetch`. */
  fetch?: typeof fetch
  /** Keep writes made offline (and across a reload) and send them once when back online:
   * `true`, or options. Off by default: writes then fail at once when the server is away. */
  offline?: boolean | OfflineOptions
  children: ReactNode
}

interface SessionRuntimeContextValue {
  client: SessionRuntimeClient
  projectId: string | undefined
}

const SessionRuntimeContext = createContext<SessionRuntimeContextValue | null>(null)

export function SessionRuntimeProvider(props: SessionRuntimeProviderProps): ReactNode {
  const { baseUrl, projectId, children } = props
  const latest = useRef(props)
  useEffect(() => {
    latest.current = props
  })
  const client = useMemo(
    () =>
      createSessionRuntimeClient({
        baseUrl,
        getToken: () => latest.current.getToken(),
        // Without a reporter, nothing is reported: the call is simply not made.
        reporter: {
          captureException: (error, hint) => latest.current.reporter?.captureException(error, hint),
        },
        fetch: (input, init) => (latest.current.fetch ?? globalThis.fetch)(input, init),
      }),
    [baseUrl],
  )
  const [ownQueryClient] = useState(() => props.queryClient ?? new QueryClient())
  const queryClient = props.queryClient ?? ownQueryClient
  const offline = props.offline === true ? {} : props.offline || null
  const isOffline = offline !== null
  // Registered during render, before any hook below runs a write (setting them again replaces).
  useMemo(
    () =>
      registerSessionWrites(queryClient, client, {
        isOffline,
        onWriteRefused: (error, variables) => {
          const current = latest.current.offline
          if (typeof current === 'object') current.onWriteRefused?.(error, variables)
        },
      }),
    [queryClient, client, isOffline],
  )
  const storageKey = offline?.storageKey ?? DEFAULT_OFFLINE_STORAGE_KEY
  const givenPersister = offline?.persister
  const persister = useMemo(() => {
    if (!isOffline) return null
    startFromBrowserOnlineState()
    return givenPersister ?? createIndexedDbPersister(storageKey)
  }, [isOffline, givenPersister, storageKey])
  const value = useMemo(() => ({ client, projectId }), [client, projectId])
  const tree = (
    <SessionRuntimeContext.Provider value={value}>{children}</SessionRuntimeContext.Provider>
  )
  if (persister === null) {
    return <QueryClientProvider client={queryClient}>{tree}</QueryClientProvider>
  }
  const persistOptions = {
    persister,
    maxAge: offline?.maxAgeMs ?? DEFAULT_OFFLINE_MAX_AGE_MS,
    dehydrateOptions: { shouldDehydrateMutation: isUnfinishedWrite },
  }
  return (
    <PersistQueryClientProvider
      client={queryClient}
      persistOptions={persistOptions}
      onSuccess={() => {
        // Not awaited: TanStack keeps the cache "restoring" (and saves nothing) until this
        // returns, and a write may be retried for a long time. Writes made while restoring
        // are saved here, since TanStack saves on changes only once restored.
        void resumeRestoredWrites(queryClient)
        // A failed save (storage full, IndexedDB unavailable) is retried by the next change.
        persistQueryClientSave({ queryClient, ...persistOptions }).catch(() => undefined)
      }}
    >
      {tree}
    </PersistQueryClientProvider>
  )
}

function useSessionRuntimeContext(): SessionRuntimeContextValue {
  const value = useContext(SessionRuntimeContext)
  if (value === null) {
    throw new Error('session-runtime hooks must be used inside <SessionRuntimeProvider>')
  }
  return value
}

/** The client of the nearest `SessionRuntimeProvider`, for operations without a hook. */
export function useSessionRuntimeClient(): SessionRuntimeClient {
  return useSessionRuntimeContext().client
}

/** The provider's `projectId`, if it was given one. */
export function useSessionRuntimeProjectId(): string | undefined {
  return useSessionRuntimeContext().projectId
}
