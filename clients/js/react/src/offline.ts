/**
 * The provider's offline mode, on TanStack Query's own machinery: writes pause while the
 * browser is offline (`networkMode: 'online'`), paused and unfinished writes are persisted
 * with the query cache by `@tanstack/react-query-persist-client`, into IndexedDB through
 * `idb-keyval` and `@tanstack/query-async-storage-persister`, and after a reload they are
 * restored and resumed with the functions of their mutation keys (`writes.ts`).
 */
import { createAsyncStoragePersister } from '@tanstack/query-async-storage-persister'
import { onlineManager, type Mutation, type QueryClient } from '@tanstack/react-query'
import type { Persister } from '@tanstack/react-query-persist-client'
import type { SessionRuntimeError } from '@session-runtime/client'
import { del, get, set } from 'idb-keyval'

/** What `offline` on the provider may set; `offline: true` takes every default. */
export interface OfflineOptions {
  /** Where the cache and the queued writes are kept: IndexedDB (`idb-keyval`'s default
   * database) under `storageKey` unless another TanStack persister is given. */
  persister?: Persister
  /** The IndexedDB key (default `session-runtime-offline`): one per app on an origin. */
  storageKey?: string
  /** Writes older than this are dropped at restore, not sent (default 24 hours: the server
   * keeps an `Idempotency-Key` that long, so an older replay would no longer be recognised). */
  maxAgeMs?: number
  /** Told of each write refused for good (a 4xx that retrying cannot fix): it is dropped, and
   * the writes behind it go on. */
  onWriteRefused?: (error: SessionRuntimeError, variables: unknown) => void
}

export const DEFAULT_OFFLINE_STORAGE_KEY = 'session-runtime-offline'
export const DEFAULT_OFFLINE_MAX_AGE_MS = 24 * 60 * 60 * 1000
// Short, so that a write made just before a reload is on disk by then.
const PERSIST_THROTTLE_MS = 50

/** The default persister: the whole cache as one IndexedDB value. */
export function createIndexedDbPersister(storageKey: string): Persister {
  return createAsyncStoragePersister({
    storage: {
      getItem: (key: string) => get<string>(key).then((value) => value ?? null),
      setItem: (key: string, value: string) => set(key, value),
      removeItem: (key: string) => del(key),
    },
    key: storageKey,
    throttleTime: PERSIST_THROTTLE_MS,
  })
}

/**
 * TanStack Query presumes it is online until told otherwise; a page loaded while offline tells
 * it at once, so its writes pause (and are persisted) instead of failing their first try.
 */
export function startFromBrowserOnlineState(): void {
  if (typeof navigator !== 'undefined' && navigator.onLine === false) {
    onlineManager.setOnline(false)
  }
}

/** Send again every write restored unfinished: paused ones, and any cut off mid-request by the
 * reload (its key makes sending it again safe). */
export async function resumeRestoredWrites(queryClient: QueryClient): Promise<void> {
  const pending = queryClient
    .getMutationCache()
    .getAll()
    .filter((mutation) => mutation.state.status === 'pending')
  await Promise.all(pending.map((mutation) => mutation.continue().catch(() => undefined)))
}

/** What is persisted of the writes: every unfinished one, not only paused ones, so a write cut
 * off mid-request by a reload is sent again (its key makes that safe). */
export function isUnfinishedWrite(mutation: Mutation<unknown, Error, unknown, unknown>): boolean {
  return mutation.state.isPaused || mutation.state.status === 'pending'
}
