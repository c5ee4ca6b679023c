/**
 * The /v1/ws protocol: many sessions on one connection, a project's changes, refusals per
 * subscription, a refused token, and reconnecting with every subscription made again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket as NodeWebSocket } from 'ws'
import {
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
import { guestSessionInput, server } from './support'

// Node 20 has no WebSocket of its own; the ws package has the browser's interface.
const WebSocket = NodeWebSocket as unknown as typeof globalThis.WebSocket

function socketClient(baseUrl: string, getToken: () => string | null) {
  return createSessionRuntimeClient({
    baseUrl,
    getToken,
    WebSocket,
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
  })
}

function collector() {
  const heard = {
    snapshots: [] as Session[],
    ended: [] as Session[],
    errors: [] as { error: SessionRuntimeError; willRetry: boolean }[],
  }
  return {
    heard,
    listener: {
      onSnapshot: (session: Session) => heard.snapshots.push(session),
      onEnd: (session: Session) => heard.ended.push(session),
      onError: (error: SessionRuntimeError, info: { willRetry: boolean }) =>
        heard.errors.push({ error, willRetry: info.willRetry }),
    },
    versions: () => heard.snapshots.map((session) => session.version),
  }
}

function expectStrictlyIncreasing(versions: number[]): void {
  for (let index = 1; index < versions.length; index += 1) {
    expect(versions[index]).toBeGreaterThan(versions[index - 1] ?? 0)
  }
}

describe('openSocket', () => {
  it('carries many sessions on one connection, each in version order to its end', async () => {
    const writer = socketClient(server.baseUrl, () => server.guestToken)
    const sessionIds: string[] = []
    for (let index = 0; index < 25; index += 1) {
      sessionIds.push((await writer.createSession(guestSessionInput())).sessionId)
    }
    const socket = writer.openSocket()
    const listeners = sessionIds.map((sessionId) => {
      const entry = collector()
      socket.subscribeSession(server.projectId, sessionId, entry.listener)
      return entry
    })
    await waitFor(() => listeners.every((entry) => entry.heard.snapshots.length >= 1), {
      what: 'every first snapshot',
    })
    for (const entry of listeners) expect(entry.versions()[0]).toBe(1)

    const finals = await Promise.all(
      sessionIds.map(async (sessionId, index) => {
        await writer.updateSessionProgress(server.projectId, { sessionId, currentStepIndex: 1 })
        await writer.updateSessionProgress(server.projectId, { sessionId, inputs: { index } })
        return writer.completeSession(server.projectId, { sessionId })
      }),
    )
    await waitFor(() => listeners.every((entry) => entry.heard.ended.length === 1), {
      what: 'every end',
    })
    listeners.forEach((entry, index) => {
      expectStrictlyIncreasing(entry.versions())
      expect(entry.heard.snapshots.at(-1)).toEqual(finals[index])
      expect(entry.heard.ended[0]).toEqual(finals[index])
      expect(entry.heard.errors).toEqual([])
    })
    socket.close()
  })

  it("follows a project's sessions (members), and refuses one subscription, not the others", async () => {
    const member = socketClient(server.baseUrl, () => server.ownerToken)
    const socket = member.openSocket()
    const changes: Session[] = []
    socket.subscribeProject(server.projectId, { onChange: (session) => changes.push(session) })

    const guestClient = socketClient(server.baseUrl, () => server.guestToken)
    const guestSocket = guestClient.openSocket()
    let refusal: { error: SessionRuntimeError; willRetry: boolean } | null = null
    guestSocket.subscribeProject(server.projectId, {
      onChange: () => {},
      onError: (error, info) => {
        refusal = { error, willRetry: info.willRetry }
      },
    })
    const { sessionId } = await guestClient.createSession(guestSessionInput())
    const own = collector()
    guestSocket.subscribeSession(server.projectId, sessionId, own.listener)

    await waitFor(() => refusal !== null, { what: "the guest's refusal" })
    expect(refusal).toMatchObject({ willRetry: false })
    expect((refusal as { error: unknown } | null)?.error).toBeInstanceOf(PermissionDeniedError)

    await guestClient.updateSessionProgress(server.projectId, { sessionId, currentStepIndex: 4 })
    await waitFor(
      () => changes.some((session) => session.id === sessionId && session.version === 2),
      {
        what: "the member's change",
      },
    )
    await waitFor(() => own.versions().includes(2), { what: "the guest's own session" })
    socket.close()
    guestSocket.close()
  })

  it('a refused token ends every subscription, once, without reconnecting', async () => {
    let tokenCalls = 0
    const client = socketClient(server.baseUrl, () => {
      tokenCalls += 1
      return 'srt_unknown'
    })
    const socket = client.openSocket()
    const first = collector()
    const second = collector()
    socket.subscribeSession(server.projectId, 'a', first.listener)
    socket.subscribeSession(server.projectId, 'b', second.listener)
    await waitFor(() => first.heard.errors.length === 1 && second.heard.errors.length === 1, {
      what: 'the refusals',
    })
    for (const entry of [first, second]) {
      expect(entry.heard.errors[0]?.error).toBeInstanceOf(UnauthenticatedError)
      expect(entry.heard.errors[0]?.willRetry).toBe(false)
    }
    expect(tokenCalls).toBe(1)
    socket.close()
  })

  it('a token revoked while subscribed ends every subscription with UNAUTHENTICATED', async () => {
    const { tokenId, token } = await createGuestToken(server.database, server.projectId)
    let tokenCalls = 0
    const client = socketClient(server.baseUrl, () => {
      tokenCalls += 1
      return token
    })
    const { sessionId } = await client.createSession(guestSessionInput())
    tokenCalls = 0
    const socket = client.openSocket()
    const live = collector()
    socket.subscribeSession(server.projectId, sessionId, live.listener)
    await waitFor(() => live.heard.snapshots.length === 1, { what: 'the first snapshot' })
    await revokeToken(server.database, tokenId)
    await waitFor(() => live.heard.errors.length === 1, { what: 'the refusal' })
    expect(live.heard.errors[0]?.error).toBeInstanceOf(UnauthenticatedError)
    expect(live.heard.errors[0]?.willRetry).toBe(false)
    // Told once, over the open connection: no reconnect with the revoked token.
    expect(tokenCalls).toBe(1)
    expect(live.heard.errors).toHaveLength(1)
    socket.close()
  })

  it('after unsubscribe, nothing more arrives for that session', async () => {
    const client = socketClient(server.baseUrl, () => server.guestToken)
    const { sessionId } = await client.createSession(guestSessionInput())
    const socket = client.openSocket()
    const stopped = collector()
    const kept = collector()
    const unsubscribe = socket.subscribeSession(server.projectId, sessionId, stopped.listener)
    socket.subscribeSession(server.projectId, sessionId, kept.listener)
    await waitFor(() => stopped.heard.snapshots.length === 1 && kept.heard.snapshots.length === 1, {
      what: 'the first snapshots',
    })
    unsubscribe()
    await client.updateSessionProgress(server.projectId, { sessionId, currentStepIndex: 1 })
    await waitFor(() => kept.versions().includes(2), { what: 'the change on the kept one' })
    expect(stopped.versions()).toEqual([1])
    socket.close()
  })
})

describe('a socket across a server restart', () => {
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

  it('reconnects, asks for the token again, subscribes again, and delivers each version once', async () => {
    let tokenCalls = 0
    const client = socketClient(running.baseUrl, () => {
      tokenCalls += 1
      return seeded.guestToken
    })
    const input = {
      projectId: seeded.projectId,
      eventId: seeded.eventId,
      experienceId: seeded.experienceId,
      mode: 'guest' as const,
      configSource: 'published' as const,
    }
    const sessionIds = [
      (await client.createSession(input)).sessionId,
      (await client.createSession(input)).sessionId,
    ]
    const socket = client.openSocket()
    const listeners = sessionIds.map((sessionId) => {
      const entry = collector()
      socket.subscribeSession(seeded.projectId, sessionId, entry.listener)
      return entry
    })
    await waitFor(() => listeners.every((entry) => entry.heard.snapshots.length === 1), {
      what: 'the first snapshots',
    })
    const callsBefore = tokenCalls

    await running.stop()
    await waitFor(() => listeners.every((entry) => entry.heard.errors.length >= 1), {
      what: 'the loss to be told',
    })
    running = await startServer(seeded.database, running.port)
    await waitFor(() => tokenCalls > callsBefore, { what: 'the token to be asked for again' })

    // Subscribed again once a write shows up; the resent current snapshot is not delivered twice.
    const [first, second] = sessionIds as [string, string]
    await waitFor(
      async () => {
        await client.updateSessionProgress(seeded.projectId, {
          sessionId: first,
          inputs: { ping: Date.now() },
        })
        return (listeners[0]?.heard.snapshots.length ?? 0) >= 2
      },
      { what: 'a change after the restart', intervalMs: 200 },
    )
    await client.completeSession(seeded.projectId, { sessionId: second })
    await waitFor(() => listeners[1]?.heard.ended.length === 1, { what: 'the second end' })
    expect(listeners[1]?.versions()).toEqual([1, 2])
    expectStrictlyIncreasing(listeners[0]?.versions() ?? [])
    for (const entry of listeners) {
      expect(entry.heard.errors.every((error) => error.willRetry)).toBe(true)
    }
    socket.close()
  })
})
