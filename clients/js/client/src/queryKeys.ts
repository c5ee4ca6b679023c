/**
 * The contract's query keys, exactly as it writes them. TanStack Query (and any cache keyed the
 * same way) invalidates by prefix: `sessionKeys.lists()` covers every project's list.
 */
export const sessionKeys = {
  all: ['sessions'] as const,
  lists: () => [...sessionKeys.all, 'list'] as const,
  list: (projectId: string) => [...sessionKeys.lists(), projectId] as const,
  details: () => [...sessionKeys.all, 'detail'] as const,
  detail: (projectId: string, sessionId: string) =>
    [...sessionKeys.details(), projectId, sessionId] as const,
}
