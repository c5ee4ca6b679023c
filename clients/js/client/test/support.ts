/** What the client tests share: the running server's values and clients made for it. */
import { inject } from 'vitest'
import {
  createSessionRuntimeClient,
  type CreateSessionInput,
  type SessionRuntimeClient,
  type SessionRuntimeClientOptions,
} from '../src'

export const server = inject('server')

/** A `fetch` that counts and records what goes through it, then sends it for real. */
export function recordingFetch(): {
  fetch: typeof fetch
  requests: { url: string; method: string; headers: Headers }[]
} {
  const requests: { url: string; method: string; headers: Headers }[] = []
  return {
    requests,
    fetch: (input, init) => {
      requests.push({
        url: String(input),
        method: init?.method ?? 'GET',
        headers: new Headers(init?.headers),
      })
      return fetch(input, init)
    },
  }
}

/** A client for the test server with `token` (a string, or a getter). */
export function clientWith(
  token: string | null | SessionRuntimeClientOptions['getToken'],
  options: Partial<SessionRuntimeClientOptions> = {},
): SessionRuntimeClient {
  return createSessionRuntimeClient({
    baseUrl: server.baseUrl,
    getToken: typeof token === 'function' ? token : () => token,
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    ...options,
  })
}

export const owner = (): SessionRuntimeClient => clientWith(server.ownerToken)
export const guest = (): SessionRuntimeClient => clientWith(server.guestToken)

/** A guest session's input on the seeded event and experience. */
export function guestSessionInput(): CreateSessionInput {
  return {
    projectId: server.projectId,
    eventId: server.eventId,
    experienceId: server.experienceId,
    mode: 'guest',
    configSource: 'published',
  }
}
