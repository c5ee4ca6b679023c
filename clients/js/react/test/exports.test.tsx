/** The public face of @session-runtime/react: exactly the agreed names. */
import { describe, expect, it } from 'vitest'
import { sessionKeys as clientSessionKeys } from '@session-runtime/client'
import * as react from '../src'

describe('@session-runtime/react', () => {
  it('exports exactly the agreed runtime names', () => {
    expect(Object.keys(react).sort()).toEqual(
      [
        'SessionRuntimeProvider',
        'newSessionId',
        'sessionKeys',
        'sessionWriteKeys',
        'useAbandonSession',
        'useCompleteSession',
        'useCreateSession',
        'useSessionRuntimeClient',
        'useSubscribeSession',
        'useUpdateSessionProgress',
      ].sort(),
    )
  })

  it('re-exports the client sessionKeys itself', () => {
    expect(react.sessionKeys).toBe(clientSessionKeys)
  })
})
