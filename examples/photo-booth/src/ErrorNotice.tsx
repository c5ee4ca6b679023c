import { describeError } from './errors'

/** One failed operation, said in the contract's words (`UNAUTHENTICATED: ...`). */
export function ErrorNotice({ title, error }: { title: string; error: Error | null }) {
  if (error === null) return null
  return (
    <div className="notice error" role="alert">
      <strong>{title}</strong> <span className="notice-text">{describeError(error)}</span>
    </div>
  )
}
