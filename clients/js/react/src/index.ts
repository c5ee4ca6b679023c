/**
 * `@session-runtime/react`: the session operations contract's hooks, a thin layer of TanStack
 * Query v5 over `@session-runtime/client`.
 */
export { SessionRuntimeProvider, useSessionRuntimeClient } from './provider'
export type { SessionRuntimeProviderProps } from './provider'
export {
  useAbandonSession,
  useCompleteSession,
  useCreateSession,
  useUpdateSessionProgress,
} from './mutations'
export { useSubscribeSession } from './subscription'
export type { SubscribeSessionResult } from './subscription'
export { sessionKeys } from '@session-runtime/client'
