/**
 * `SessionRuntimeProvider`: one client and one TanStack Query cache for the tree below it. The
 * client is made once per base URL; the token getter, the reporter and `fetch` are read through
 * refs, so a new function or object on every render (a common way to pass them) neither
 * rebuilds the client nor reopens live subscriptions, and the latest one is always used.
 */
import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
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
  const value = useMemo(() => ({ client, projectId }), [client, projectId])
  return (
    <QueryClientProvider client={queryClient}>
      <SessionRuntimeContext.Provider value={value}>{children}</SessionRuntimeContext.Provider>
    </QueryClientProvider>
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
