import type { Session } from '@session-runtime/client'

import { ErrorNotice } from './ErrorNotice'

interface SessionPanelProps {
  session: Session | null
  isLoading: boolean
  error: Error | null
}

/**
 * The session as the server last pushed it. The data attributes carry the same facts for
 * scripts and tests that read the page.
 */
export function SessionPanel({ session, isLoading, error }: SessionPanelProps) {
  return (
    <section
      className="panel session-panel"
      aria-labelledby="session-panel-title"
      data-status={session?.status}
      data-step={session?.currentStepIndex}
      data-version={session?.version}
    >
      <h2 id="session-panel-title">Live session</h2>
      <ErrorNotice title="Live updates:" error={error} />
      {session === null ? (
        <p className="muted">{isLoading ? 'Connecting…' : 'No session yet.'}</p>
      ) : (
        <dl className="facts">
          <dt>Session</dt>
          <dd>
            <code>{session.id}</code>
          </dd>
          <dt>Status</dt>
          <dd>
            <span className={`status status-${session.status}`}>{session.status}</span>
            {session.endReason ? ` (${session.endReason})` : null}
          </dd>
          <dt>Step</dt>
          <dd data-fact="step">{session.currentStepIndex}</dd>
          <dt>Version</dt>
          <dd data-fact="version">{session.version}</dd>
          <dt>Inputs</dt>
          <dd>
            <pre data-fact="inputs">{JSON.stringify(session.inputs, null, 2)}</pre>
          </dd>
          <dt>Outputs</dt>
          <dd>
            <pre data-fact="outputs">{JSON.stringify(session.outputs, null, 2)}</pre>
          </dd>
        </dl>
      )}
    </section>
  )
}
