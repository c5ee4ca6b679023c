import { useSubscribeSession } from '@session-runtime/react'

import { SessionPanel } from './SessionPanel'

/** A second screen (`?watch=<sessionId>`): follows one session live until it ends. */
export function Watcher({ sessionId }: { sessionId: string }) {
  const live = useSubscribeSession(sessionId)
  const isFinal = live.session !== null && live.session.status !== 'active'
  return (
    <div className="watcher">
      <p className="muted" role="status">
        {isFinal ? 'This session has ended: it will not change.' : 'Following this session live.'}
      </p>
      <SessionPanel session={live.session} isLoading={live.isLoading} error={live.error} />
    </div>
  )
}
