import { SessionRuntimeProvider } from '@session-runtime/react'
import { useState } from 'react'

import { Booth } from './Booth'
import { type BoothConfig, isComplete, loadConfig, saveConfig } from './config'
import { SetupForm } from './SetupForm'
import { Watcher } from './Watcher'

/** The setup form until the booth is configured, then the flow (or, with `?watch=`, a watcher). */
export function App() {
  const [config, setConfig] = useState(loadConfig)
  const [isEditing, setIsEditing] = useState(() => !isComplete(config))
  const watchedSessionId = new URLSearchParams(window.location.search).get('watch')

  function save(saved: BoothConfig): void {
    saveConfig(saved)
    setConfig(saved)
    setIsEditing(false)
  }

  return (
    <>
      <header className="topbar">
        <h1 className="brand">Photo booth</h1>
        {isEditing ? null : (
          <button type="button" className="secondary" onClick={() => setIsEditing(true)}>
            Settings
          </button>
        )}
      </header>
      <main>
        {isEditing ? (
          <SetupForm initial={config} onSave={save} />
        ) : (
          // Mounted anew after every save: a changed API, project or token starts a fresh cache.
          <SessionRuntimeProvider
            baseUrl={config.apiBaseUrl}
            getToken={() => config.guestToken}
            projectId={config.projectId}
            // Writes made offline are kept (in IndexedDB, through a reload) and sent once back.
            offline
          >
            {watchedSessionId ? (
              <Watcher sessionId={watchedSessionId} />
            ) : (
              <Booth config={config} />
            )}
          </SessionRuntimeProvider>
        )}
      </main>
    </>
  )
}
