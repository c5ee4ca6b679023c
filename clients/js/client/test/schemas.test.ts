/**
 * The Zod schemas accept exactly what the server accepts: each case is checked by the schema
 * and sent, unchecked, to the real server with a plain fetch; both must agree.
 */
import { describe, expect, it } from 'vitest'
import {
  abandonSessionInputSchema,
  createSessionInputSchema,
  failSessionInputSchema,
  updateSessionProgressInputSchema,
} from '../src'
import { guest, guestSessionInput, server } from './support'

async function serverAccepts(method: string, path: string, body: unknown): Promise<boolean> {
  const response = await fetch(`${server.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${server.guestToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const text = await response.text()
  if (response.ok) return true
  expect(response.status, text).toBe(422)
  return false
}

const progressCases: [string, Record<string, unknown>][] = [
  [
    'a good output',
    { outputs: { p: { mediaAssetId: 'm-1', url: 'https://cdn.example.com/m-1.jpg' } } },
  ],
  [
    'an http URL with a port and query',
    { outputs: { p: { mediaAssetId: 'm', url: 'http://127.0.0.1:9000/a.png?x=1' } } },
  ],
  [
    'an upper-case scheme',
    { outputs: { p: { mediaAssetId: 'm', url: 'HTTPS://cdn.example.com/a.png' } } },
  ],
  ['a relative URL', { outputs: { p: { mediaAssetId: 'm', url: '/a.png' } } }],
  ['an ftp URL', { outputs: { p: { mediaAssetId: 'm', url: 'ftp://cdn.example.com/a.png' } } }],
  ['a URL without a host', { outputs: { p: { mediaAssetId: 'm', url: 'http:///a.png' } } }],
  [
    'a URL with one slash',
    { outputs: { p: { mediaAssetId: 'm', url: 'http:/cdn.example.com/a.png' } } },
  ],
  [
    'a URL with a space',
    { outputs: { p: { mediaAssetId: 'm', url: 'https://cdn.example.com/a b.png' } } },
  ],
  [
    'a URL with a leading space',
    { outputs: { p: { mediaAssetId: 'm', url: ' https://cdn.example.com/a.png' } } },
  ],
  [
    'a URL with a tab',
    { outputs: { p: { mediaAssetId: 'm', url: 'https://cdn.example.com/a\t.png' } } },
  ],
  [
    'an output with another key',
    { outputs: { p: { mediaAssetId: 'm', url: 'https://c.example.com/a', size: 1 } } },
  ],
  ['an output without a URL', { outputs: { p: { mediaAssetId: 'm' } } }],
  [
    'an empty media asset id',
    { outputs: { p: { mediaAssetId: '', url: 'https://c.example.com/a' } } },
  ],
  [
    'a media asset id of 201 characters',
    { outputs: { p: { mediaAssetId: 'm'.repeat(201), url: 'https://c.example.com/a' } } },
  ],
  [
    'a numeric media asset id',
    { outputs: { p: { mediaAssetId: 7, url: 'https://c.example.com/a' } } },
  ],
  ['an output that is not an object', { outputs: { p: 'https://c.example.com/a' } }],
  ['step 0', { currentStepIndex: 0 }],
  ['step 2^31 - 1', { currentStepIndex: 2 ** 31 - 1 }],
  ['step 2^31', { currentStepIndex: 2 ** 31 }],
  ['step 1.5', { currentStepIndex: 1.5 }],
  ['step -1', { currentStepIndex: -1 }],
  ['step "1"', { currentStepIndex: '1' }],
  ['a step of true', { currentStepIndex: true }],
  ['nested inputs', { inputs: { profile: { name: 'Ada', tags: ['a', 'b'], age: 36, ok: true } } }],
  ['inputs that are a list', { inputs: ['a'] }],
  ['an unknown key', { currentStep: 1 }],
  ['nothing at all', {}],
]

describe('updateSessionProgressInputSchema', () => {
  it.each(progressCases)('agrees with the server on %s', async (_name, progress) => {
    const { sessionId } = await guest().createSession(guestSessionInput())
    const ours = updateSessionProgressInputSchema.safeParse({ sessionId, ...progress }).success
    const theirs = await serverAccepts(
      'PATCH',
      `/v1/projects/${server.projectId}/sessions/${sessionId}`,
      progress,
    )
    expect(ours).toBe(theirs)
  })
})

describe('createSessionInputSchema', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['a good input', {}],
    ['an unknown mode', { mode: 'kiosk' }],
    ['an unknown config source', { configSource: 'live' }],
    ['an unknown key', { colour: 'red' }],
    ['a numeric event id', { eventId: 5 }],
  ]
  it.each(cases)('agrees with the server on %s', async (_name, change) => {
    const input = { ...guestSessionInput(), ...change }
    const ours = createSessionInputSchema.safeParse(input).success
    const theirs = await serverAccepts('POST', `/v1/projects/${server.projectId}/sessions`, input)
    expect(ours).toBe(theirs)
  })
})

describe('the reasons of abandon and fail', () => {
  const cases: [string, 'abandon' | 'fail', Record<string, unknown>][] = [
    ['an abandon without a reason', 'abandon', {}],
    ['an abandon with a reason', 'abandon', { reason: 'left' }],
    ['an abandon with an empty reason', 'abandon', { reason: '' }],
    ['an abandon with 501 characters', 'abandon', { reason: 'r'.repeat(501) }],
    ['an abandon with a NUL', 'abandon', { reason: 'a\u0000b' }],
    ['a fail without a reason', 'fail', {}],
    ['a fail with a reason', 'fail', { reason: 'the camera was lost' }],
    ['a fail with 500 characters', 'fail', { reason: 'r'.repeat(500) }],
  ]
  it.each(cases)('agree with the server on %s', async (_name, action, body) => {
    const { sessionId } = await guest().createSession(guestSessionInput())
    const schema = action === 'abandon' ? abandonSessionInputSchema : failSessionInputSchema
    const ours = schema.safeParse({ sessionId, ...body }).success
    const theirs = await serverAccepts(
      'POST',
      `/v1/projects/${server.projectId}/sessions/${sessionId}/${action}`,
      body,
    )
    expect(ours).toBe(theirs)
  })
})
