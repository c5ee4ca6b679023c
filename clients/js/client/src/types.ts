/**
 * The types a caller sees: responses come from the server's generated OpenAPI types, inputs are
 * what the Zod schemas accept (`z.infer`), so neither is copied by hand.
 */
import type { z } from 'zod'
import type { components } from './generated/openapi'
import type {
  abandonSessionInputSchema,
  completeSessionInputSchema,
  createSessionInputSchema,
  failSessionInputSchema,
  mediaReferenceSchema,
  sessionListFiltersSchema,
  updateSessionProgressInputSchema,
} from './schemas'

type Schemas = components['schemas']

export type Session = Schemas['Session']
export type SessionStatus = Schemas['SessionStatus']
export type SessionMode = Schemas['Mode']
export type ConfigSource = Schemas['ConfigSource']
export type CreateSessionResult = Schemas['CreateSessionResponse']
export type SessionList = Schemas['SessionListResponse']
export type ErrorBody = Schemas['ErrorBody']

export type MediaReference = z.infer<typeof mediaReferenceSchema>
export type CreateSessionInput = z.infer<typeof createSessionInputSchema>
export type UpdateSessionProgressInput = z.infer<typeof updateSessionProgressInputSchema>
export type CompleteSessionInput = z.infer<typeof completeSessionInputSchema>
export type AbandonSessionInput = z.infer<typeof abandonSessionInputSchema>
export type FailSessionInput = z.infer<typeof failSessionInputSchema>
export type SessionListFilters = z.infer<typeof sessionListFiltersSchema>
