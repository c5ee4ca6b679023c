/**
 * The guest's flow: start a session, then name -> capture -> done, then complete it (or leave,
 * which abandons it). The screen follows the session the server pushes; while writes wait to be
 * sent (the provider's offline mode keeps them through a lost connection and a reload), it
 * shows the step the guest reached, so the flow goes on offline.
 */

import {
  newSessionId,
  useAbandonSession,
  useCompleteSession,
  useCreateSession,
  useSubscribeSession,
  useUpdateSessionProgress,
} from '@session-runtime/react'
import { useIsMutating } from '@tanstack/react-query'
import { useState } from 'react'

import { type BoothConfig, linkTo } from './config'
import { ErrorNotice } from './ErrorNotice'
import { mediaReferenceFor, type SamplePicture } from './samples'
import { SessionPanel } from './SessionPanel'
import { CaptureStep, DoneStep, FinalStep, NameStep, STEP_TITLES } from './steps'

export function Booth({ config }: { config: BoothConfig }) {
  // Chosen here, so the flow can go on before the server has seen the create.
  const [sessionId, setSessionId] = useState<string | null>(null)
  // Followed live once the server has it (a stream to a session not yet created is refused).
  const [liveSessionId, setLiveSessionId] = useState<string | null>(null)
  // The step the guest reached, ahead of the server's while writes wait to be sent.
  const [reachedStep, setReachedStep] = useState(0)
  const live = useSubscribeSession(liveSessionId)
  const createSession = useCreateSession()
  const updateProgress = useUpdateSessionProgress(config.projectId)
  const completeSession = useCompleteSession(config.projectId)
  const abandonSession = useAbandonSession(config.projectId)
  const waitingWrites = useIsMutating()
  // A write paused while offline does not hold the guest back: it is queued.
  const isBusy = [createSession, updateProgress, completeSession, abandonSession].some(
    (mutation) => mutation.isPending && !mutation.isPaused,
  )
  const session = live.session

  function start(): void {
    const chosenId = newSessionId()
    setSessionId(chosenId)
    setReachedStep(0)
    createSession.mutate(
      {
        projectId: config.projectId,
        eventId: config.eventId,
        experienceId: config.experienceId,
        mode: 'guest',
        configSource: 'published',
        sessionId: chosenId,
      },
      {
        onSuccess: (created) => setLiveSessionId(created.sessionId),
        // Refused for good (a bad token, say): there is no session to go on with.
        onError: () => setSessionId(null),
      },
    )
  }

  function recordName(name: string): void {
    if (sessionId === null) return
    setReachedStep(1)
    updateProgress.mutate({ sessionId, currentStepIndex: 1, inputs: { name } })
  }

  function recordCapture(picture: SamplePicture): void {
    if (sessionId === null) return
    setReachedStep(2)
    updateProgress.mutate({
      sessionId,
      currentStepIndex: 2,
      outputs: { portrait: mediaReferenceFor(picture) },
    })
  }

  function nextGuest(): void {
    setSessionId(null)
    setLiveSessionId(null)
    setReachedStep(0)
    for (const mutation of [createSession, updateProgress, completeSession, abandonSession]) {
      mutation.reset()
    }
  }

  const step = Math.max(session?.currentStepIndex ?? 0, reachedStep)
  const isActive = session === null ? sessionId !== null : session.status === 'active'
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

        {/* A failure being retried shows too (`failureReason`), not only a final one. */}
        <ErrorNotice
          title="Could not start:"
          error={createSession.error ?? createSession.failureReason}
        />
        <ErrorNotice
          title="Could not save:"
          error={updateProgress.error ?? updateProgress.failureReason}
        />
        <ErrorNotice
          title="Could not finish:"
          error={completeSession.error ?? completeSession.failureReason}
        />
        <ErrorNotice
          title="Could not leave:"
          error={abandonSession.error ?? abandonSession.failureReason}
        />
        {waitingWrites > 0 ? (
          <p className="muted" data-waiting-writes={waitingWrites}>
            {waitingWrites === 1 ? '1 change' : `${waitingWrites} changes`} waiting to be sent
          </p>
        ) : null}

        {sessionId === null ? (
          <div className="step">
            <h2>Welcome to the photo booth</h2>
            <button type="button" disabled={isBusy} onClick={start}>
              Start
            </button>
          </div>
        ) : session !== null && !isActive ? (
          <FinalStep session={session} onNextGuest={nextGuest} />
        ) : step === 0 ? (
          <NameStep isBusy={isBusy} onSubmit={recordName} />
        ) : step === 1 ? (
          <CaptureStep isBusy={isBusy} onCapture={recordCapture} />
        ) : session === null ? (
          <p className="muted">Waiting for the server…</p>
        ) : (
          <DoneStep
            session={session}
            isBusy={isBusy}
            onComplete={() => completeSession.mutate({ sessionId: session.id })}
          />
        )}

        {isActive && session !== null ? (
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
