/** The three screens of the flow. Each one only says what the guest chose; Booth records it. */

import type { Session } from '@session-runtime/client'
import { useState } from 'react'

import { SAMPLE_PICTURES, type SamplePicture } from './samples'

export const STEP_TITLES = ['Your name', 'Capture', 'Done'] as const

export function NameStep({
  isBusy,
  onSubmit,
}: {
  isBusy: boolean
  onSubmit: (name: string) => void
}) {
  const [name, setName] = useState('')
  return (
    <form
      className="step"
      onSubmit={(event) => {
        event.preventDefault()
        onSubmit(name.trim())
      }}
    >
      <h2>What is your name?</h2>
      <label className="field">
        Name
        <input
          name="name"
          value={name}
          onChange={(event) => setName(event.target.value)}
          autoComplete="off"
          maxLength={80}
          required
        />
      </label>
      <button type="submit" disabled={isBusy || name.trim() === ''}>
        Next
      </button>
    </form>
  )
}

export function CaptureStep({
  isBusy,
  onCapture,
}: {
  isBusy: boolean
  onCapture: (picture: SamplePicture) => void
}) {
  return (
    <div className="step">
      <h2>Strike a pose</h2>
      <p className="muted">Pick a backdrop: it stands in for the camera.</p>
      <ul className="pictures">
        {SAMPLE_PICTURES.map((picture) => (
          <li key={picture.mediaAssetId}>
            <button
              type="button"
              className="picture"
              disabled={isBusy}
              onClick={() => onCapture(picture)}
            >
              <img src={`${import.meta.env.BASE_URL}${picture.path}`} alt="" />
              {picture.label}
            </button>
          </li>
        ))}
      </ul>
    </div>
  )
}

export function DoneStep({
  session,
  isBusy,
  onComplete,
}: {
  session: Session
  isBusy: boolean
  onComplete: () => void
}) {
  const portrait = session.outputs['portrait']
  return (
    <div className="step">
      <h2>Looking good{guestName(session)}!</h2>
      {portrait ? <img className="portrait" src={portrait.url} alt="Your picture" /> : null}
      <button type="button" disabled={isBusy} onClick={onComplete}>
        Finish
      </button>
    </div>
  )
}

export function FinalStep({ session, onNextGuest }: { session: Session; onNextGuest: () => void }) {
  return (
    <div className="step">
      <h2>{endMessage(session)}</h2>
      <button type="button" onClick={onNextGuest}>
        Next guest
      </button>
    </div>
  )
}

function endMessage(session: Session): string {
  if (session.status === 'completed') return `Thank you${guestName(session)}! Your picture is saved.`
  if (session.status === 'abandoned') return 'This session was abandoned.'
  return `This session ended with an error${session.endReason ? `: ${session.endReason}` : '.'}`
}

function guestName(session: Session): string {
  const name = session.inputs['name']
  return typeof name === 'string' && name !== '' ? `, ${name}` : ''
}
