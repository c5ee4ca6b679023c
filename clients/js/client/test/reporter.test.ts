/**
 * Error tracking with a real Sentry SDK: every failed operation reaches Sentry once, tagged
 * `{domain: 'session', action}`; without a reporter nothing breaks; a reporter that throws never
 * replaces the operation's own error.
 */
import * as Sentry from '@sentry/browser'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  NotFoundError,
  PermissionDeniedError,
  SessionRuntimeError,
  ValidationError,
  createSessionRuntimeClient,
  type ErrorReporter,
  type SessionRuntimeClient,
} from '../src'
import { waitFor } from '../../testing/server'
import { guest, guestSessionInput, server } from './support'

const events: Sentry.ErrorEvent[] = []

beforeAll(() => {
  Sentry.init({
    // A DSN is needed for events to be processed; beforeSend keeps them here and sends none.
    dsn: 'https://public@127.0.0.1/1',
    defaultIntegrations: false,
    beforeSend(event) {
      events.push(event)
      return null
    },
  })
})

afterAll(async () => {
  await Sentry.close()
})

beforeEach(() => {
  events.length = 0
})

function reportingClient(token: string, reporter: ErrorReporter = Sentry): SessionRuntimeClient {
  return createSessionRuntimeClient({ baseUrl: server.baseUrl, getToken: () => token, reporter })
}

async function failure(operation: Promise<unknown>): Promise<unknown> {
  return operation.then(
    () => {
      throw new Error('the operation succeeded; a failure was expected')
    },
    (error: unknown) => error,
  )
}

describe('the reporter', () => {
  it('gets every failed operation once, tagged with its action', async () => {
    const { sessionId } = await guest().createSession(guestSessionInput())
    const client = reportingClient(server.otherGuestToken)
    const cases: [string, () => Promise<unknown>][] = [
      ['create', () => client.createSession({ ...guestSessionInput(), mode: 'preview' })],
      ['get', () => client.getSession(server.projectId, sessionId)],
      ['list', () => client.listSessions(server.projectId, { cursor: 'not-a-cursor' })],
      [
        'update',
        () => client.updateSessionProgress(server.projectId, { sessionId, currentStepIndex: 1 }),
      ],
      ['complete', () => client.completeSession(server.projectId, { sessionId })],
      ['abandon', () => client.abandonSession(server.projectId, { sessionId })],
      ['fail', () => client.failSession(server.projectId, { sessionId, reason: 'x' })],
    ]
    for (const [action, call] of cases) {
      const error = await failure(call())
      expect(error).toBeInstanceOf(SessionRuntimeError)
      await waitFor(() => events.length === 1, { what: `the ${action} report` })
      const [event] = events.splice(0)
      expect(event?.tags).toEqual({ domain: 'session', action })
      expect(event?.exception?.values?.[0]?.type).toBe((error as Error).name)
    }
  })

  it('gets a refusal made before any request (VALIDATION_ERROR) and a final subscription refusal', async () => {
    const client = reportingClient(server.guestToken)
    const error = await failure(
      client.updateSessionProgress(server.projectId, { sessionId: 's', currentStepIndex: -1 }),
    )
    expect(error).toBeInstanceOf(ValidationError)
    await waitFor(() => events.length === 1, { what: 'the update report' })
    expect(events.splice(0)[0]?.tags).toEqual({ domain: 'session', action: 'update' })

    let refused: unknown = null
    client.subscribeSession(server.projectId, 'no-such-session', {
      onSnapshot: () => {},
      onError: (subscriptionError) => {
        refused = subscriptionError
      },
    })
    await waitFor(() => refused !== null && events.length === 1, { what: 'the subscribe report' })
    expect(refused).toBeInstanceOf(NotFoundError)
    expect(events[0]?.tags).toEqual({ domain: 'session', action: 'subscribe' })
  })

  it('is not called when operations succeed', async () => {
    const client = reportingClient(server.guestToken)
    const { sessionId } = await client.createSession(guestSessionInput())
    await client.completeSession(server.projectId, { sessionId })
    await Sentry.flush(2000)
    expect(events).toEqual([])
  })
})

describe('without a reporter, or with a broken one', () => {
  it('raises the same error and reports nothing', async () => {
    const client = createSessionRuntimeClient({
      baseUrl: server.baseUrl,
      getToken: () => server.otherGuestToken,
    })
    const { sessionId } = await guest().createSession(guestSessionInput())
    expect(await failure(client.getSession(server.projectId, sessionId))).toBeInstanceOf(
      PermissionDeniedError,
    )
    await Sentry.flush(2000)
    expect(events).toEqual([])
  })

  it('a reporter that throws never replaces the operation error', async () => {
    const calls: unknown[] = []
    const broken: ErrorReporter = {
      captureException(error) {
        calls.push(error)
        throw new Error('the reporter is down')
      },
    }
    const client = reportingClient(server.otherGuestToken, broken)
    const { sessionId } = await guest().createSession(guestSessionInput())
    const error = await failure(client.getSession(server.projectId, sessionId))
    expect(error).toBeInstanceOf(PermissionDeniedError)
    expect(calls).toEqual([error])
  })
})
