/**
 * Every error code the server gives these operations, as the client's own classes, and the
 * refusals the client makes itself before any request.
 */
import { describe, expect, it } from 'vitest'
import {
  FailedPreconditionError,
  MethodNotAllowedError,
  NetworkError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  SessionRuntimeError,
  UnauthenticatedError,
  UnavailableError,
  ValidationError,
  createSessionRuntimeClient,
  type SessionRuntimeClient,
} from '../src'
import { Transport } from '../src/transport'
import { freePort } from '../../testing/server'
import { clientWith, guest, guestSessionInput, owner, recordingFetch, server } from './support'

async function refusal(operation: Promise<unknown>): Promise<SessionRuntimeError> {
  try {
    await operation
  } catch (error) {
    expect(error).toBeInstanceOf(SessionRuntimeError)
    return error as SessionRuntimeError
  }
  throw new Error('the operation succeeded; a refusal was expected')
}

describe('VALIDATION_ERROR before any request', () => {
  const sessionId = 'some-session'
  const refusedInputs: [string, (client: SessionRuntimeClient) => Promise<unknown>, string][] = [
    [
      'create without an event',
      (c) => c.createSession({ ...guestSessionInput(), eventId: '' }),
      'eventId',
    ],
    [
      'create in an unknown mode',
      (c) => c.createSession({ ...guestSessionInput(), mode: 'kiosk' as 'guest' }),
      'mode',
    ],
    [
      'create with an unknown key',
      (c) => c.createSession({ ...guestSessionInput(), colour: 'red' } as never),
      '$',
    ],
    [
      'a fractional step',
      (c) => c.updateSessionProgress(server.projectId, { sessionId, currentStepIndex: 1.5 }),
      'currentStepIndex',
    ],
    [
      'a negative step',
      (c) => c.updateSessionProgress(server.projectId, { sessionId, currentStepIndex: -1 }),
      'currentStepIndex',
    ],
    [
      'an empty session id',
      (c) => c.updateSessionProgress(server.projectId, { sessionId: '' }),
      'sessionId',
    ],
    [
      'an output with a relative URL',
      (c) =>
        c.updateSessionProgress(server.projectId, {
          sessionId,
          outputs: { p: { mediaAssetId: 'm', url: '/m.jpg' } },
        }),
      'outputs.p.url',
    ],
    [
      'an output with another key',
      (c) =>
        c.updateSessionProgress(server.projectId, {
          sessionId,
          outputs: {
            p: { mediaAssetId: 'm', url: 'https://cdn.example.com/m.jpg', size: 3 } as never,
          },
        }),
      'outputs.p',
    ],
    [
      'an If-Match version of 0',
      (c) => c.updateSessionProgress(server.projectId, { sessionId }, { ifMatchVersion: 0 }),
      '$',
    ],
    [
      'complete without a session id',
      (c) => c.completeSession(server.projectId, { sessionId: '' }),
      'sessionId',
    ],
    [
      'abandon with an empty reason',
      (c) => c.abandonSession(server.projectId, { sessionId, reason: '' }),
      'reason',
    ],
    [
      'fail without a reason',
      (c) => c.failSession(server.projectId, { sessionId } as never),
      'reason',
    ],
    ['get with an empty project', (c) => c.getSession('', sessionId), '$'],
    ['list with a limit of 0', (c) => c.listSessions(server.projectId, { limit: 0 }), 'limit'],
  ]

  it.each(refusedInputs)('%s', async (_name, call, path) => {
    const recorder = recordingFetch()
    const error = await refusal(call(clientWith(server.ownerToken, { fetch: recorder.fetch })))
    expect(error).toBeInstanceOf(ValidationError)
    expect(error.code).toBe('VALIDATION_ERROR')
    expect(error.details).toEqual(expect.arrayContaining([{ path, message: expect.any(String) }]))
    expect(recorder.requests).toHaveLength(0)
  })
})

describe('the server refuses', () => {
  it('VALIDATION_ERROR for what only it checks (a NUL in an input), with the field path', async () => {
    const client = guest()
    const { sessionId } = await client.createSession(guestSessionInput())
    const error = await refusal(
      client.updateSessionProgress(server.projectId, { sessionId, inputs: { note: 'a\u0000b' } }),
    )
    expect(error).toBeInstanceOf(ValidationError)
    expect(error.status).toBe(422)
    expect(error.details).toEqual([{ path: 'inputs.note', message: expect.any(String) }])
  })

  it('VALIDATION_ERROR for inputs nested deeper than 20, and nothing is written', async () => {
    const client = guest()
    const { sessionId } = await client.createSession(guestSessionInput())
    let deep: Record<string, unknown> = { leaf: true }
    for (let depth = 0; depth < 21; depth += 1) deep = { level: deep }
    const error = await refusal(
      client.updateSessionProgress(server.projectId, { sessionId, inputs: deep }),
    )
    expect(error).toBeInstanceOf(ValidationError)
    expect((await client.getSession(server.projectId, sessionId)).version).toBe(1)
  })

  it('UNAUTHENTICATED without a token, and with an unknown one', async () => {
    for (const token of [null, 'srt_not-a-real-token']) {
      const error = await refusal(clientWith(token).createSession(guestSessionInput()))
      expect(error).toBeInstanceOf(UnauthenticatedError)
      expect(error).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 })
    }
  })

  it('PERMISSION_DENIED: a guest creating a preview, a viewer writing, a guest reading another', async () => {
    const preview = await refusal(
      guest().createSession({ ...guestSessionInput(), mode: 'preview', configSource: 'draft' }),
    )
    expect(preview).toBeInstanceOf(PermissionDeniedError)
    expect(preview.status).toBe(403)
    const draft = await refusal(
      guest().createSession({ ...guestSessionInput(), configSource: 'draft' }),
    )
    expect(draft).toBeInstanceOf(PermissionDeniedError)

    const { sessionId } = await guest().createSession(guestSessionInput())
    const viewer = clientWith(server.viewerToken)
    expect((await viewer.getSession(server.projectId, sessionId)).id).toBe(sessionId)
    const write = await refusal(
      viewer.updateSessionProgress(server.projectId, { sessionId, currentStepIndex: 1 }),
    )
    expect(write).toBeInstanceOf(PermissionDeniedError)

    const otherGuest = clientWith(server.otherGuestToken)
    for (const call of [
      () => otherGuest.getSession(server.projectId, sessionId),
      () => otherGuest.updateSessionProgress(server.projectId, { sessionId, currentStepIndex: 1 }),
      () => otherGuest.completeSession(server.projectId, { sessionId }),
      () => otherGuest.abandonSession(server.projectId, { sessionId }),
      () => otherGuest.failSession(server.projectId, { sessionId, reason: 'no' }),
    ]) {
      expect(await refusal(call())).toBeInstanceOf(PermissionDeniedError)
    }
  })

  it('NOT_FOUND names the missing resource', async () => {
    const client = owner()
    const session = await refusal(client.getSession(server.projectId, 'no-such-session'))
    expect(session).toBeInstanceOf(NotFoundError)
    expect(session).toMatchObject({ status: 404, details: { resource: 'session' } })
    const event = await refusal(
      client.createSession({ ...guestSessionInput(), eventId: 'no-such-event' }),
    )
    expect(event).toBeInstanceOf(NotFoundError)
    expect(event.details).toMatchObject({ resource: 'event' })
    const experience = await refusal(
      client.createSession({ ...guestSessionInput(), experienceId: 'no-such-experience' }),
    )
    expect(experience.details).toMatchObject({ resource: 'experience' })
    for (const call of [
      () =>
        client.updateSessionProgress(server.projectId, { sessionId: 'nope', currentStepIndex: 1 }),
      () => client.completeSession(server.projectId, { sessionId: 'nope' }),
      () => client.abandonSession(server.projectId, { sessionId: 'nope' }),
      () => client.failSession(server.projectId, { sessionId: 'nope', reason: 'x' }),
    ]) {
      expect(await refusal(call())).toBeInstanceOf(NotFoundError)
    }
  })

  it('FAILED_PRECONDITION for progress on a final session and for another transition', async () => {
    const client = guest()
    const { sessionId } = await client.createSession(guestSessionInput())
    await client.completeSession(server.projectId, { sessionId })
    const progress = await refusal(
      client.updateSessionProgress(server.projectId, { sessionId, currentStepIndex: 3 }),
    )
    expect(progress).toBeInstanceOf(FailedPreconditionError)
    expect(progress.status).toBe(409)
    expect(await refusal(client.abandonSession(server.projectId, { sessionId }))).toBeInstanceOf(
      FailedPreconditionError,
    )
  })

  it('FAILED_PRECONDITION when If-Match names another version, and nothing is written', async () => {
    const client = guest()
    const { sessionId } = await client.createSession(guestSessionInput())
    await client.updateSessionProgress(server.projectId, { sessionId, currentStepIndex: 1 })
    const error = await refusal(
      client.updateSessionProgress(
        server.projectId,
        { sessionId, currentStepIndex: 5 },
        { ifMatchVersion: 1 },
      ),
    )
    expect(error).toBeInstanceOf(FailedPreconditionError)
    const stored = await client.getSession(server.projectId, sessionId)
    expect(stored).toMatchObject({ version: 2, currentStepIndex: 1 })
  })

  it('RESOURCE_EXHAUSTED (413) for a session over 1 MiB, and nothing is written', async () => {
    const client = guest()
    const { sessionId } = await client.createSession(guestSessionInput())
    const error = await refusal(
      client.updateSessionProgress(server.projectId, {
        sessionId,
        inputs: { photo: 'x'.repeat(1024 * 1024 + 1) },
      }),
    )
    expect(error).toBeInstanceOf(ResourceExhaustedError)
    expect(error).toMatchObject({
      code: 'RESOURCE_EXHAUSTED',
      status: 413,
      retryAfterSeconds: null,
    })
    expect((await client.getSession(server.projectId, sessionId)).version).toBe(1)
  })

  it('METHOD_NOT_ALLOWED for a method the path does not have', async () => {
    // No operation sends a wrong method; the one transport every operation uses meets it here.
    const transport = new Transport({ baseUrl: server.baseUrl, getToken: () => server.ownerToken })
    const error = await refusal(
      transport.json({
        method: 'POST',
        path: `/v1/projects/${server.projectId}/sessions/some-session`,
      }),
    )
    expect(error).toBeInstanceOf(MethodNotAllowedError)
    expect(error).toMatchObject({ code: 'METHOD_NOT_ALLOWED', status: 405 })
  })
})

describe('an unreachable server', () => {
  it('is a NetworkError: code UNAVAILABLE, status null, the cause kept', async () => {
    const port = await freePort()
    const client = createSessionRuntimeClient({
      baseUrl: `http://127.0.0.1:${port}`,
      getToken: () => server.guestToken,
    })
    const error = await refusal(client.createSession(guestSessionInput()))
    expect(error).toBeInstanceOf(NetworkError)
    expect(error).toBeInstanceOf(UnavailableError)
    expect(error).toMatchObject({ code: 'UNAVAILABLE', status: null })
    expect(error.cause).toBeDefined()
  })
})
