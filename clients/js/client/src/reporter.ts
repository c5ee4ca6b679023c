/**
 * Error tracking: the shape of Sentry's default export (`@sentry/browser`, `@sentry/react`), so an
 * app passes `Sentry` itself. Every failed operation is reported once, with the contract's tags.
 */

export interface ErrorReporter {
  captureException(error: unknown, hint?: { tags?: Record<string, string> }): unknown
}

/** What a failed operation was doing: the `action` tag. */
export type SessionAction =
  'create' | 'get' | 'list' | 'update' | 'complete' | 'abandon' | 'fail' | 'subscribe'

/** Report `error`; a reporter that throws must never turn into the caller's error. */
export function reportFailure(
  reporter: ErrorReporter | undefined,
  error: unknown,
  action: SessionAction,
): void {
  if (reporter === undefined) return
  try {
    reporter.captureException(error, { tags: { domain: 'session', action } })
  } catch {
    // Reporting is best effort: the operation's own error is what the caller must see.
  }
}
