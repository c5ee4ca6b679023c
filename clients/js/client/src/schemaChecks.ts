/**
 * Compile-time proof that the Zod schemas fit the server: for each operation, the fields our
 * schema accepts (less the ids that travel in the URL) are exactly the fields of the server's
 * request body in the generated OpenAPI types, with the same types and the same required keys.
 * When the server's models change, `npm run generate:types` rewrites the types and `tsc --noEmit`
 * fails here until the schemas follow. Nothing in this module runs.
 */
import type { z } from 'zod'
import type { components } from './generated/openapi'
import type {
  abandonSessionInputSchema,
  configSourceSchema,
  createSessionInputSchema,
  failSessionInputSchema,
  mediaReferenceSchema,
  sessionModeSchema,
  sessionStatusSchema,
  updateSessionProgressInputSchema,
} from './schemas'

type Schemas = components['schemas']

/** `true` only when A and B are the same type (not merely assignable). */
type Equals<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false

/** The keys that must be present. */
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T]

/** Each field's type, with the `undefined` of an optional key and the body's `null` set aside
 * (the server also takes `null` for "not given"; the client simply leaves the key out). */
type FieldTypes<T> = { [K in keyof T]-?: Exclude<T[K], undefined | null> }

type SameFields<Ours, Server> =
  Equals<FieldTypes<Ours>, FieldTypes<Server>> extends true
    ? Equals<RequiredKeys<Ours>, RequiredKeys<Server>>
    : false

type Assert<Condition extends true> = Condition

type Input<Schema extends z.ZodType> = z.infer<Schema>

export type SchemaChecks = [
  Assert<Equals<Input<typeof sessionModeSchema>, Schemas['Mode']>>,
  Assert<Equals<Input<typeof configSourceSchema>, Schemas['ConfigSource']>>,
  Assert<Equals<Input<typeof sessionStatusSchema>, Schemas['SessionStatus']>>,
  Assert<SameFields<Input<typeof mediaReferenceSchema>, Schemas['MediaReference']>>,
  // projectId travels in the URL (the body may repeat it, so the server marks it optional).
  Assert<
    SameFields<
      Omit<Input<typeof createSessionInputSchema>, 'projectId'>,
      Omit<Schemas['CreateSessionBody'], 'projectId'>
    >
  >,
  Assert<
    SameFields<
      Omit<Input<typeof updateSessionProgressInputSchema>, 'sessionId'>,
      Schemas['UpdateSessionProgressBody']
    >
  >,
  Assert<
    SameFields<
      Omit<Input<typeof abandonSessionInputSchema>, 'sessionId'>,
      Schemas['AbandonSessionBody']
    >
  >,
  Assert<
    SameFields<Omit<Input<typeof failSessionInputSchema>, 'sessionId'>, Schemas['FailSessionBody']>
  >,
  // The outputs of a stored session are the same media references the schema accepts.
  Assert<
    Equals<
      FieldTypes<Input<typeof mediaReferenceSchema>>,
      FieldTypes<Schemas['Session']['outputs'][string]>
    >
  >,
]
