/**
 * `@session-runtime/react`: the session operations contract's hooks, a thin layer of TanStack
 * Query v5 over `@session-runtime/client`.
 */
export { SessionRuntimeProvider, useSessionRuntimeClient } from './provider'
export type { SessionRuntimeProviderProps } from './provider'
export type { OfflineOptions } from './offline'
export { sessionWriteKeys } from './writes'
export type {
  AbandonSessionVariables,
  CompleteSessionVariables,
  CreateSessionVariables,
  SessionWriteVariables,
  UpdateSessionProgressVariables,
} from './writes'
export type { SessionWriteMutation } from './mutations'
export {
  useAbandonSession,
  useCompleteSession,
  useCreateSession,
  useUpdateSessionProgress,
} from './mutations'
export { useSubscribeSession } from './subscription'
export type { SubscribeSessionResult } from './subscription'
export { newSessionId, sessionKeys } from '@session-runtime/client'
