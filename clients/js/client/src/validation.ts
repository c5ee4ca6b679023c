/** Zod refusals become the contract's `ValidationError`, with the server's `[{path, message}]`. */
import type { z } from 'zod'
import { ValidationError, type ValidationIssue } from './errors'

/** The parsed value, or a `ValidationError` naming every refused field (dotted paths, `$` for
 * the input itself, as the server writes them). */
export function validate<Schema extends z.ZodType>(
  schema: Schema,
  value: unknown,
  what: string,
): z.infer<Schema> {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  const details: ValidationIssue[] = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '$',
    message: issue.message,
  }))
  const summary = details.map((detail) => `${detail.path}: ${detail.message}`).join('; ')
  throw new ValidationError(`invalid ${what}: ${summary}`, { details, cause: result.error })
}
