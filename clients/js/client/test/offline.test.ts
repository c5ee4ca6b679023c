/** Writes that are safe to send again: keys on the wire, replays applied once (real server). */
import { describe, expect, it } from 'vitest'
import {
  FailedPreconditionError,
  NetworkError,
  NotFoundError,
  ResourceExhaustedError,
  UnavailableError,
  ValidationError,
  clientSessionIdSchema,
  isRetryableFailure,
  newIdempotencyKey,
  newSessionId,
} from '../src'
import { clientWith, guest, guestSessionInput, owner, recordingFetch, server } from './support'

describe('offline rules', () => {
  it('makes session ids the server accepts, each one new', () => {
    const ids = new Set(Array.from({ length: 200 }, () => newSessionId()))
    expect(ids.size).toBe(200)
    for (const id of ids) expect(clientSessionIdSchema.safeParse(id).success).toBe(true)
  })

  it('retries lost connections, 503 and 429, and nothing else', () => {
    expect(isRetryableFailure(new NetworkError('lost'))).toBe(true)
    expect(isRetryableFailure(new UnavailableError('down', { status: 503 }))).toBe(true)
    expect(isRetryableFailure(new ResourceExhaustedError('slow down', { status: 429 }))).toBe(true)
    expect(isRetryableFailure(new ResourceExhaustedError('too big', { status: 413 }))).toBe(false)
    expect(isRetryableFailure(new ValidationError('bad', { status: 422 }))).toBe(false)
    expect(isRetryableFailure(new NotFoundError('gone', { status: 404 }))).toBe(false)
    expect(isRetryableFailure(new Error('a bug'))).toBe(false)
  })
})

describe('idempotency keys', () => {
  it('sends the key as Idempotency-Key on every write', async () => {
    const recording = recordingFetch()
    const client = clientWith(server.guestToken, { fetch: recording.fetch })
    const createKey = newIdempotencyKey()
    const updateKey = newIdempotencyKey()
    const completeKey = newIdempotencyKey()
    const sessionId = newSessionId()
    await client.createSession({ ...guestSessionInput(), sessionId }, { idempotencyKey: createKey })
    await client.updateSessionProgress(
      server.projectId,
      { sessionId, currentStepIndex: 1 },
      { idempotencyKey: updateKey },
    )
    await client.completeSession(server.projectId, { sessionId }, { idempotencyKey: completeKey })
    expect(recording.requests.map((request) => request.headers.get('idempotency-key'))).toEqual([
      createKey,
      updateKey,
      completeKey,
    ])
  })

  it('applies a replayed create and a replayed progress update once', async () => {
    const client = guest()
    const sessionId = newSessionId()
    const input = { ...guestSessionInput(), sessionId }
    const createKey = newIdempotencyKey()
    const first = await client.createSession(input, { idempotencyKey: createKey })
    const again = await client.createSession(input, { idempotencyKey: createKey })
    expect(first.sessionId).toBe(sessionId)
    expect(again.session).toEqual(first.session)

    const progress = { sessionId, currentStepIndex: 1, inputs: { name: 'Ada' } }
    const updateKey = newIdempotencyKey()
    const updated = await client.updateSessionProgress(server.projectId, progress, {
      idempotencyKey: updateKey,
    })
    const replayed = await client.updateSessionProgress(server.projectId, progress, {
      idempotencyKey: updateKey,
    })
    expect(updated.version).toBe(2)
    expect(replayed).toEqual(updated)
    const stored = await client.getSession(server.projectId, sessionId)
    expect(stored.version).toBe(2)
    expect(stored.inputs).toEqual({ name: 'Ada' })
  })

  it('refuses one key on another request, and a bad key before any request', async () => {
    const recording = recordingFetch()
    const client = clientWith(server.guestToken, { fetch: recording.fetch })
    const { sessionId } = await client.createSession(guestSessionInput())
    const key = newIdempotencyKey()
    await client.updateSessionProgress(
      server.projectId,
      { sessionId, currentStepIndex: 1 },
      { idempotencyKey: key },
    )
    await expect(
      client.updateSessionProgress(
        server.projectId,
        { sessionId, currentStepIndex: 2 },
        { idempotencyKey: key },
      ),
    ).rejects.toBeInstanceOf(ValidationError)
    const sent = recording.requests.length
    await expect(
      client.completeSession(server.projectId, { sessionId }, { idempotencyKey: 'with space' }),
    ).rejects.toBeInstanceOf(ValidationError)
    expect(recording.requests.length).toBe(sent)
  })

  it('refuses a create that names a session id another create took', async () => {
    const client = guest()
    const sessionId = newSessionId()
    await client.createSession({ ...guestSessionInput(), sessionId })
    await expect(
      owner().createSession({ ...guestSessionInput(), sessionId }),
    ).rejects.toBeInstanceOf(FailedPreconditionError)
  })
})
