/** Every operation of the client against the real server, and the token getter. */
import { describe, expect, it } from 'vitest'
import { PermissionDeniedError } from '../src'
import { clientWith, guest, guestSessionInput, owner, recordingFetch, server } from './support'

describe('operations', () => {
  it('creates a session: active, step 0, version 1, createdAt == updatedAt', async () => {
    const created = await guest().createSession(guestSessionInput())
    expect(created.sessionId).toBe(created.session.id)
    expect(created.session).toMatchObject({
      projectId: server.projectId,
      eventId: server.eventId,
      experienceId: server.experienceId,
      mode: 'guest',
      configSource: 'published',
      status: 'active',
      currentStepIndex: 0,
      inputs: {},
      outputs: {},
      version: 1,
    })
    expect(created.session.createdAt).toBe(created.session.updatedAt)
  })

  it('gets a session as stored', async () => {
    const client = guest()
    const { sessionId, session } = await client.createSession(guestSessionInput())
    expect(await client.getSession(server.projectId, sessionId)).toEqual(session)
  })

  it('deep-merges inputs and outputs and replaces the step, one version per write', async () => {
    const client = guest()
    const { sessionId } = await client.createSession(guestSessionInput())
    await client.updateSessionProgress(server.projectId, {
      sessionId,
      currentStepIndex: 1,
      inputs: { profile: { name: 'Ada' } },
    })
    const updated = await client.updateSessionProgress(server.projectId, {
      sessionId,
      currentStepIndex: 2,
      inputs: { profile: { mood: 'happy' } },
      outputs: { portrait: { mediaAssetId: 'm-1', url: 'https://cdn.example.com/m-1.jpg' } },
    })
    expect(updated.inputs).toEqual({ profile: { name: 'Ada', mood: 'happy' } })
    expect(updated.outputs).toEqual({
      portrait: { mediaAssetId: 'm-1', url: 'https://cdn.example.com/m-1.jpg' },
    })
    expect(updated.currentStepIndex).toBe(2)
    expect(updated.version).toBe(3)
  })

  it('writes with If-Match when the version is the stored one', async () => {
    const client = guest()
    const { sessionId } = await client.createSession(guestSessionInput())
    const updated = await client.updateSessionProgress(
      server.projectId,
      { sessionId, currentStepIndex: 1 },
      { ifMatchVersion: 1 },
    )
    expect(updated.version).toBe(2)
  })

  it('completes a session: completedAt == updatedAt; repeating it is a no-op', async () => {
    const client = guest()
    const { sessionId } = await client.createSession(guestSessionInput())
    const completed = await client.completeSession(server.projectId, { sessionId })
    expect(completed.status).toBe('completed')
    expect(completed.completedAt).toBe(completed.updatedAt)
    const again = await client.completeSession(server.projectId, { sessionId })
    expect(again.version).toBe(completed.version)
  })

  it('abandons a session, with and without a reason', async () => {
    const client = guest()
    const first = await client.createSession(guestSessionInput())
    const withReason = await client.abandonSession(server.projectId, {
      sessionId: first.sessionId,
      reason: 'the guest walked away',
    })
    expect(withReason).toMatchObject({ status: 'abandoned', endReason: 'the guest walked away' })
    const second = await client.createSession(guestSessionInput())
    const without = await client.abandonSession(server.projectId, { sessionId: second.sessionId })
    expect(without.status).toBe('abandoned')
    expect(without.endReason ?? null).toBeNull()
  })

  it('fails a session with its reason (status error)', async () => {
    const client = guest()
    const { sessionId } = await client.createSession(guestSessionInput())
    const failed = await client.failSession(server.projectId, {
      sessionId,
      reason: 'the camera was lost',
    })
    expect(failed).toMatchObject({ status: 'error', endReason: 'the camera was lost' })
  })

  it('lists sessions newest first, with filters and pages', async () => {
    const client = owner()
    const created = []
    for (let index = 0; index < 3; index += 1) {
      created.push(
        (
          await client.createSession({
            ...guestSessionInput(),
            mode: 'preview',
            configSource: 'draft',
          })
        ).sessionId,
      )
    }
    await client.completeSession(server.projectId, { sessionId: created[2] ?? '' })
    const previews = await client.listSessions(server.projectId, {
      mode: 'preview',
      status: 'active',
      limit: 500,
    })
    const ids = previews.items.map((session) => session.id)
    expect(ids).toContain(created[0])
    expect(ids).toContain(created[1])
    expect(ids).not.toContain(created[2])
    expect(
      previews.items.every((session) => session.mode === 'preview' && session.status === 'active'),
    ).toBe(true)
    expect(ids.indexOf(created[1] ?? '')).toBeLessThan(ids.indexOf(created[0] ?? ''))

    const firstPage = await client.listSessions(server.projectId, { mode: 'preview', limit: 1 })
    expect(firstPage.items).toHaveLength(1)
    expect(firstPage.nextCursor).toEqual(expect.any(String))
    const secondPage = await client.listSessions(server.projectId, {
      mode: 'preview',
      limit: 1,
      cursor: firstPage.nextCursor ?? '',
    })
    expect(secondPage.items).toHaveLength(1)
    expect(secondPage.items[0]?.id).not.toBe(firstPage.items[0]?.id)
  })
})

describe('the token', () => {
  it('goes in the Authorization header, never in the URL', async () => {
    const recorder = recordingFetch()
    const client = clientWith(server.guestToken, { fetch: recorder.fetch })
    const { sessionId } = await client.createSession(guestSessionInput())
    await client.getSession(server.projectId, sessionId)
    expect(recorder.requests).toHaveLength(2)
    for (const request of recorder.requests) {
      expect(request.headers.get('authorization')).toBe(`Bearer ${server.guestToken}`)
      expect(request.url).not.toContain(server.guestToken)
    }
  })

  it('is asked for again before every request, so a changed token is used at once', async () => {
    const tokens = [server.guestToken, server.otherGuestToken]
    let calls = 0
    const client = clientWith(async () => tokens[Math.min(calls++, tokens.length - 1)] ?? null)
    const { sessionId } = await client.createSession(guestSessionInput())
    // The second guest may not read the first guest's session: the new token was sent.
    await expect(client.getSession(server.projectId, sessionId)).rejects.toBeInstanceOf(
      PermissionDeniedError,
    )
    expect(calls).toBe(2)
    // And the first guest still may.
    expect((await guest().getSession(server.projectId, sessionId)).id).toBe(sessionId)
  })
})
