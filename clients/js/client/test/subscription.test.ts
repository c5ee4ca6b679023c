/**
 * One session live over SSE: order, the end, final refusals, the token getter on reconnect, and
 * resuming with Last-Event-ID after the server restarts, with nothing delivered twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
  createSessionRuntimeClient,
  type Session,
  type SessionRuntimeError,
} from '../src'
import {
  createGuestToken,
  removeDirectory,
  revokeToken,
  seedDatabase,
  startServer,
  waitFor,
  type RunningServer,
  type SeededDatabase,
} from '../../testing/server'
import { clientWith, guest, guestSessionInput, recordingFetch, server } from './support'

/** A listener that keeps everything it hears. */
function collector() {
  const heard = {
    snapshots: [] as Session[],
    ended: [] as Session[],
    errors: [] as { error: SessionRuntimeError; willRetry: boolean }[],
  }
  const listener = {
    onSnapshot: (session: Session) => heard.snapshots.push(session),
    onEnd: (session: Session) => heard.ended.push(session),
    onError: (error: SessionRuntimeError, info: { willRetry: boolean }) =>
      heard.errors.push({ error, willRetry: info.willRetry }),
  }
  return { heard, listener, versions: () => heard.snapshots.map((session) => session.version) }
}

describe('subscribeSession over SSE', () => {
  it('delivers the current snapshot first, then each change in version order, then ends', async () => {
    const client = guest()
    const { sessionId } = await client.createSession(guestSessionInput())
    await client.updateSessionProgress(server.projectId, { sessionId, currentStepIndex: 1 })
    const { heard, listener, versions } = collector()
    const unsubscribe = client.subscribeSession(server.projectId, sessionId, listener)
    await waitFor(() => heard.snapshots.length === 1, { what: 'the first snapshot' })
    expect(heard.snapshots[0]).toMatchObject({ version: 2, currentStepIndex: 1 })

    for (let step = 2; step <= 6; step += 1) {
      await client.updateSessionProgress(server.projectId, {
        sessionId,
        currentStepIndex: step,
        inputs: { [`answer${step}`]: step },
      })
    }
    const completed = await client.completeSession(server.projectId, { sessionId })
    await waitFor(() => heard.ended.length === 1, { what: 'the end' })

    const seen = versions()
    // A slow reader may get a later snapshot in place of several: strictly increasing, never older.
    for (let index = 1; index < seen.length; index += 1) {
      expect(seen[index]).toBeGreaterThan(seen[index - 1] ?? 0)
    }
    expect(heard.snapshots.at(-1)).toEqual(completed)
    expect(heard.ended[0]).toEqual(completed)
    expect(heard.errors).toEqual([])
    unsubscribe()
  })

  it('stops at once on a session that is already final: its snapshot, then the end', async () => {
    const client = guest()
    const { sessionId } = await client.createSession(guestSessionInput())
    const abandoned = await client.abandonSession(server.projectId, { sessionId })
    const { heard, listener } = collector()
    client.subscribeSession(server.projectId, sessionId, listener)
    await waitFor(() => heard.ended.length === 1, { what: 'the end' })
    expect(heard.snapshots).toEqual([abandoned])
    expect(heard.ended).toEqual([abandoned])
  })

  it.each([
    ['UNAUTHENTICATED', 'srt_unknown', 'own', UnauthenticatedError],
    ['PERMISSION_DENIED', 'other-guest', 'own', PermissionDeniedError],
    ['NOT_FOUND', 'guest', 'missing', NotFoundError],
  ] as const)('%s is final: told once, never retried', async (_code, who, which, errorClass) => {
    const { sessionId } = await guest().createSession(guestSessionInput())
    const token =
      who === 'guest' ? server.guestToken : who === 'other-guest' ? server.otherGuestToken : who
    const recorder = recordingFetch()
    const client = clientWith(token, { fetch: recorder.fetch })
    const { heard, listener } = collector()
    client.subscribeSession(
      server.projectId,
      which === 'own' ? sessionId : 'no-such-session',
      listener,
    )
    await waitFor(() => heard.errors.length === 1, { what: 'the refusal' })
    expect(heard.errors[0]?.error).toBeInstanceOf(errorClass)
    expect(heard.errors[0]?.willRetry).toBe(false)
    // A later write must not wake a stopped subscription: one request, ever.
    await guest().updateSessionProgress(server.projectId, { sessionId, currentStepIndex: 1 })
    await guest().getSession(server.projectId, sessionId)
    expect(recorder.requests).toHaveLength(1)
    expect(heard.snapshots).toEqual([])
  })

  it('a token revoked mid-stream ends it with UNAUTHENTICATED (event: error), not retried', async () => {
    const { tokenId, token } = await createGuestToken(server.database, server.projectId)
    const recorder = recordingFetch()
    const client = clientWith(token, { fetch: recorder.fetch })
    const { sessionId } = await client.createSession(guestSessionInput())
    const { heard, listener } = collector()
    client.subscribeSession(server.projectId, sessionId, listener)
    await waitFor(() => heard.snapshots.length === 1, { what: 'the first snapshot' })
    await revokeToken(server.database, tokenId)
    await waitFor(() => heard.errors.length === 1, { what: 'the end of the stream' })
    expect(heard.errors[0]?.error).toBeInstanceOf(UnauthenticatedError)
    expect(heard.errors[0]?.willRetry).toBe(false)
    // One stream, told why it ended: no second request to learn it.
    expect(recorder.requests.filter((request) => request.url.endsWith('/events'))).toHaveLength(1)
  })

  it('unsubscribing closes the stream and delivers nothing more', async () => {
    const client = guest()
    const { sessionId } = await client.createSession(guestSessionInput())
    const { heard, listener } = collector()
    const unsubscribe = client.subscribeSession(server.projectId, sessionId, listener)
    await waitFor(() => heard.snapshots.length === 1, { what: 'the first snapshot' })
    unsubscribe()
    await client.updateSessionProgress(server.projectId, { sessionId, currentStepIndex: 1 })
    // Another subscriber sees the change, so it was published; the closed one stays quiet.
    const other = collector()
    const stopOther = client.subscribeSession(server.projectId, sessionId, other.listener)
    await waitFor(() => other.heard.snapshots.length === 1, { what: "the other's snapshot" })
    expect(other.heard.snapshots[0]?.version).toBe(2)
    expect(heard.snapshots.map((session) => session.version)).toEqual([1])
    stopOther()
  })
})

describe('a subscription across a server restart', () => {
  let seeded: SeededDatabase
  let running: RunningServer

  beforeAll(async () => {
    seeded = await seedDatabase()
    running = await startServer(seeded.database)
  })

  afterAll(async () => {
    await running.stop()
    removeDirectory(seeded.directory)
  })

  it('resumes with Last-Event-ID = the last version seen, asks for the token again, misses nothing', async () => {
    const baseUrl = running.baseUrl
    let tokenCalls = 0
    // The subscriber's reconnects wait at this gate, so the test decides what happens while it
    // is away (writes it must not miss) before it comes back.
    let openGate: () => void = () => {}
    let gate: Promise<void> | null = null
    const eventRequests: Headers[] = []
    const gatedFetch: typeof fetch = async (input, init) => {
      if (String(input).endsWith('/events')) {
        eventRequests.push(new Headers(init?.headers))
        if (eventRequests.length > 1 && gate !== null) await gate
      }
      return fetch(input, init)
    }
    const subscriber = createSessionRuntimeClient({
      baseUrl,
      getToken: () => {
        tokenCalls += 1
        return seeded.guestToken
      },
      fetch: gatedFetch,
      reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    })
    const writer = createSessionRuntimeClient({ baseUrl, getToken: () => seeded.guestToken })
    const projectId = seeded.projectId
    const { sessionId } = await writer.createSession({
      projectId,
      eventId: seeded.eventId,
      experienceId: seeded.experienceId,
      mode: 'guest',
      configSource: 'published',
    })
    await writer.updateSessionProgress(projectId, {
      sessionId,
      currentStepIndex: 1,
      inputs: { a: 1 },
    })
    await writer.updateSessionProgress(projectId, {
      sessionId,
      currentStepIndex: 2,
      inputs: { b: 2 },
    })

    const { heard, listener, versions } = collector()
    subscriber.subscribeSession(projectId, sessionId, listener)
    await waitFor(() => heard.snapshots.length === 1, { what: 'the first snapshot' })
    expect(versions()).toEqual([3])

    gate = new Promise((open) => {
      openGate = open
    })
    await running.stop()
    await waitFor(() => eventRequests.length === 2, { what: 'the reconnect' })
    running = await startServer(seeded.database, running.port)
    // Written while the subscriber is away.
    await writer.updateSessionProgress(projectId, {
      sessionId,
      currentStepIndex: 3,
      inputs: { c: 3 },
    })
    openGate()
    await waitFor(() => heard.snapshots.length === 2, { what: 'the snapshot after the restart' })
    expect(eventRequests[1]?.get('last-event-id')).toBe('3')
    expect(eventRequests[0]?.get('last-event-id')).toBeNull()
    expect(heard.snapshots[1]).toMatchObject({
      version: 4,
      currentStepIndex: 3,
      inputs: { a: 1, b: 2, c: 3 },
    })
    expect(tokenCalls).toBeGreaterThanOrEqual(2)

    const completed = await writer.completeSession(projectId, { sessionId })
    await waitFor(() => heard.ended.length === 1, { what: 'the end' })
    expect(versions()).toEqual([3, 4, 5])
    expect(heard.ended[0]).toEqual(completed)
    // The loss was told as transient (reconnecting), never as final.
    expect(heard.errors.every((entry) => entry.willRetry)).toBe(true)
  })

  it('reconnects after the server restarts with nothing new: nothing is delivered twice', async () => {
    const baseUrl = running.baseUrl
    const eventRequests: Headers[] = []
    const recordingEvents: typeof fetch = (input, init) => {
      if (String(input).endsWith('/events')) eventRequests.push(new Headers(init?.headers))
      return fetch(input, init)
    }
    const subscriber = createSessionRuntimeClient({
      baseUrl,
      getToken: () => seeded.guestToken,
      fetch: recordingEvents,
      reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    })
    const { sessionId } = await subscriber.createSession({
      projectId: seeded.projectId,
      eventId: seeded.eventId,
      experienceId: seeded.experienceId,
      mode: 'guest',
      configSource: 'published',
    })
    const { heard, listener, versions } = collector()
    const unsubscribe = subscriber.subscribeSession(seeded.projectId, sessionId, listener)
    await waitFor(() => heard.snapshots.length === 1, { what: 'the first snapshot' })
    await running.stop()
    running = await startServer(seeded.database, running.port)
    // Connected again once a request with Last-Event-ID got an answer; a write then arrives.
    await waitFor(() => eventRequests.some((headers) => headers.get('last-event-id') === '1'), {
      what: 'a reconnect with Last-Event-ID',
    })
    await subscriber.updateSessionProgress(seeded.projectId, { sessionId, currentStepIndex: 1 })
    await waitFor(() => heard.snapshots.length === 2, { what: 'the change after the restart' })
    expect(versions()).toEqual([1, 2])
    unsubscribe()
  })
})

describe('a subscription whose server falls silent', () => {
  let seeded: SeededDatabase
  let running: RunningServer

  beforeAll(async () => {
    seeded = await seedDatabase()
    // A heartbeat well inside the subscriber's idle timeout: a healthy stream is never idle.
    running = await startServer(seeded.database, undefined, {
      SESSION_RUNTIME_HEARTBEAT_SECONDS: '0.2',
    })
  })

  afterAll(async () => {
    running.resume()
    await running.stop()
    removeDirectory(seeded.directory)
  })

  it('gives up on a stream that sends nothing for idleTimeoutMs and resumes once it answers', async () => {
    const eventRequests: Headers[] = []
    const recordingEvents: typeof fetch = (input, init) => {
      if (String(input).endsWith('/events')) eventRequests.push(new Headers(init?.headers))
      return fetch(input, init)
    }
    const subscriber = createSessionRuntimeClient({
      baseUrl: running.baseUrl,
      getToken: () => seeded.guestToken,
      fetch: recordingEvents,
      reconnect: { initialDelayMs: 20, maxDelayMs: 200, idleTimeoutMs: 1500 },
    })
    const { sessionId } = await subscriber.createSession({
      projectId: seeded.projectId,
      eventId: seeded.eventId,
      experienceId: seeded.experienceId,
      mode: 'guest',
      configSource: 'published',
    })
    const { heard, listener, versions } = collector()
    const unsubscribe = subscriber.subscribeSession(seeded.projectId, sessionId, listener)
    await waitFor(() => heard.snapshots.length === 1, { what: 'the first snapshot' })

    running.pause()
    // The open stream goes quiet, and so does every new attempt: each is given up in turn.
    await waitFor(() => eventRequests.length >= 3, { what: 'attempts after the silence' })
    expect(heard.errors.length).toBeGreaterThanOrEqual(1)
    expect(heard.errors.every((entry) => entry.willRetry)).toBe(true)
    running.resume()

    await waitFor(
      async () => {
        await subscriber.updateSessionProgress(seeded.projectId, {
          sessionId,
          inputs: { at: Date.now() },
        })
        return heard.snapshots.length >= 2
      },
      { what: 'a change after the server answers again', intervalMs: 300 },
    )
    expect(eventRequests.slice(1).every((headers) => headers.get('last-event-id') !== null)).toBe(
      true,
    )
    const seen = versions()
    for (let index = 1; index < seen.length; index += 1) {
      expect(seen[index]).toBeGreaterThan(seen[index - 1] ?? 0)
    }
    unsubscribe()
  })
})
