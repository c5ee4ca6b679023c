/**
 * The guest's flow: start a session, then name -> capture -> done, then complete it (or leave,
 * which abandons it). The screen follows the session the server pushes, not local state: the
 * step shown is the step stored, so a second screen and this one always agree.
 */

import {
  useAbandonSession,
  useCompleteSession,
  useCreateSession,
  useSubscribeSession,
  useUpdateSessionProgress,
} from '@session-runtime/react'
import { useState } from 'react'

import { type BoothConfig, linkTo } from './config'
import { ErrorNotice } from './ErrorNotice'
import { mediaReferenceFor, type SamplePicture } from './samples'
import { SessionPanel } from './SessionPanel'
import { CaptureStep, DoneStep, FinalStep, NameStep, STEP_TITLES } from './steps'

export function Booth({ config }: { config: BoothConfig }) {
  const [sessionId, setSessionId] = useState<string | null>(null)
  const live = useSubscribeSession(sessionId)
  const createSession = useCreateSession()
  const updateProgress = useUpdateSessionProgress(config.projectId)
  const completeSession = useCompleteSession(config.projectId)
  const abandonSession = useAbandonSession(config.projectId)
  const isBusy = [createSession, updateProgress, completeSession, abandonSession].some(
    (mutation) => mutation.isPending,
  )
  const session = live.session

  function start(): void {
    createSession.mutate(
      {
        projectId: config.projectId,
        eventId: config.eventId,
        experienceId: config.experienceId,
        mode: 'guest',
        configSource: 'published',
      },
      { onSuccess: (created) => setSessionId(created.sessionId) },
    )
  }

  function recordName(name: string): void {
    if (sessionId === null) return
    updateProgress.mutate({ sessionId, currentStepIndex: 1, inputs: { name } })
  }

  function recordCapture(picture: SamplePicture): void {
    if (sessionId === null) return
    updateProgress.mutate({
      sessionId,
      currentStepIndex: 2,
      outputs: { portrait: mediaReferenceFor(picture) },
    })
  }

  function nextGuest(): void {
    setSessionId(null)
    for (const mutation of [createSession, updateProgress, completeSession, abandonSession]) {
      mutation.reset()
    }
  }

  const step = session?.currentStepIndex ?? 0
  const isActive = session?.status === 'active'
  return (
    <div className="booth">
      <section className="panel flow" aria-label="Photo booth">
        <ol className="progress">
          {STEP_TITLES.map((title, index) => (
            <li key={title} aria-current={isActive && index === step ? 'step' : undefined}>
              {title}
            </li>
          ))}
        </ol>

        <ErrorNotice title="Could not start:" error={createSession.error} />
        <ErrorNotice title="Could not save:" error={updateProgress.error} />
        <ErrorNotice title="Could not finish:" error={completeSession.error} />
        <ErrorNotice title="Could not leave:" error={abandonSession.error} />

        {sessionId === null ? (
          <div className="step">
            <h2>Welcome to the photo booth</h2>
            <button type="button" disabled={isBusy} onClick={start}>
              Start
            </button>
          </div>
        ) : session === null ? (
          <p className="muted">Connecting…</p>
        ) : !isActive ? (
          <FinalStep session={session} onNextGuest={nextGuest} />
        ) : step === 0 ? (
          <NameStep isBusy={isBusy} onSubmit={recordName} />
        ) : step === 1 ? (
          <CaptureStep isBusy={isBusy} onCapture={recordCapture} />
        ) : (
          <DoneStep
            session={session}
            isBusy={isBusy}
            onComplete={() => completeSession.mutate({ sessionId: session.id })}
          />
        )}

        {isActive ? (
          <div className="flow-tools">
            <button
              type="button"
              className="secondary"
              disabled={isBusy}
              onClick={() => abandonSession.mutate({ sessionId: session.id })}
            >
              Leave
            </button>
            <a href={linkTo(config, { watch: session.id })} target="_blank" rel="noopener">
              Follow this session on another screen
            </a>
          </div>
        ) : null}
      </section>

      <SessionPanel session={session} isLoading={live.isLoading} error={live.error} />
    </div>
  )
}
