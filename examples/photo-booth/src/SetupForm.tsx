import { type FormEvent, useState } from 'react'

import type { BoothConfig } from './config'

const FIELDS: readonly { key: keyof BoothConfig; label: string; type: 'url' | 'text' | 'password' }[] = [
  { key: 'apiBaseUrl', label: 'API base URL', type: 'url' },
  { key: 'projectId', label: 'Project id', type: 'text' },
  { key: 'eventId', label: 'Event id', type: 'text' },
  { key: 'experienceId', label: 'Experience id', type: 'text' },
  { key: 'guestToken', label: 'Guest token', type: 'password' },
]

/** Asks for what the booth needs; the token is typed or pasted here, never read from the URL. */
export function SetupForm({
  initial,
  onSave,
}: {
  initial: BoothConfig
  onSave: (config: BoothConfig) => void
}) {
  const [values, setValues] = useState(initial)

  function submit(event: FormEvent<HTMLFormElement>): void {
    event.preventDefault()
    const trimmed = { ...values }
    for (const { key } of FIELDS) trimmed[key] = values[key].trim()
    onSave(trimmed)
  }

  return (
    <form className="panel setup" onSubmit={submit}>
      <h2>Set up this booth</h2>
      <p className="muted">
        The token stays in this browser (localStorage) and is sent only in an Authorization
        header.
      </p>
      {FIELDS.map(({ key, label, type }) => (
        <label className="field" key={key}>
          {label}
          <input
            name={key}
            type={type}
            value={values[key]}
            onChange={(event) => setValues({ ...values, [key]: event.target.value })}
            autoComplete="off"
            required
          />
        </label>
      ))}
      <button type="submit">Save</button>
    </form>
  )
}
