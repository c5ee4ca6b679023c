/**
 * The contract's Zod schemas, made as strict as the server: every input is checked with them
 * before a request leaves, so a refusal costs no round trip and has the server's shape
 * (`VALIDATION_ERROR`, details `[{path, message}]`).
 *
 * Where the server is stricter than the contract's sketch, the server wins (what it refuses would
 * only come back as a 422): `currentStepIndex` is an integer, ids are 1..128 characters, a media
 * reference has exactly `mediaAssetId` and an absolute http(s) `url`, unknown keys are refused.
 * The limits the server alone can judge (1 MiB per stored session, nesting depth) stay there.
 *
 * `schemaChecks.ts` proves at compile time that each schema fits the server's generated types.
 */
import { z } from 'zod'
import type { components } from './generated/openapi'

const MAX_ID_LENGTH = 128
const MAX_MEDIA_ASSET_ID_LENGTH = 200
const MAX_URL_LENGTH = 8192
const MAX_REASON_LENGTH = 500
const MAX_STEP_INDEX = 2 ** 31 - 1

const identifier = z.string().min(1).max(MAX_ID_LENGTH)

/** A session id chosen by the client: 22..128 URL-safe characters, not starting with `-`. */
export const clientSessionIdSchema = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_-]{21,127}$/, {
  message: 'must be 22 to 128 characters of A-Z a-z 0-9 - _, not starting with -',
})

/** An `Idempotency-Key`: 1..255 visible ASCII characters. */
export const idempotencyKeySchema = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/, { message: 'must be 1 to 255 visible ASCII characters' })

// WHATWG's URL parser repairs what Python's urlsplit refuses ("http:/host", " http://host"), so
// the shape is checked first: scheme, "//", then a host.
const ABSOLUTE_HTTP_URL = /^https?:\/\/[^/?#\s]/i
// Whitespace and control characters anywhere are refused, as the server does.
// eslint-disable-next-line no-control-regex
const SPACE_OR_CONTROL = /[\s\u0000-\u001f\u007f]/

function isAbsoluteHttpUrl(text: string): boolean {
  if (!ABSOLUTE_HTTP_URL.test(text) || SPACE_OR_CONTROL.test(text)) return false
  try {
    return new URL(text).hostname !== ''
  } catch {
    return false
  }
}

/** A produced media asset: `{mediaAssetId, url}` with an absolute http(s) URL, nothing else. */
export const mediaReferenceSchema = z.strictObject({
  mediaAssetId: z.string().min(1).max(MAX_MEDIA_ASSET_ID_LENGTH),
  url: z
    .string()
    .min(1)
    .max(MAX_URL_LENGTH)
    .refine(isAbsoluteHttpUrl, { message: 'must be an absolute http(s) URL' }),
}) satisfies z.ZodType<components['schemas']['MediaReference']>

export const sessionModeSchema = z.enum(['preview', 'guest'])
export const configSourceSchema = z.enum(['draft', 'published'])
export const sessionStatusSchema = z.enum(['active', 'completed', 'abandoned', 'error'])

/** Start a session (the contract's `createSessionInputSchema`). */
export const createSessionInputSchema = z.strictObject({
  projectId: identifier,
  eventId: identifier,
  experienceId: identifier,
  mode: sessionModeSchema,
  configSource: configSourceSchema,
  /** Chosen by the client (`newSessionId()`) so it can write to the session before the server
   * has answered; the server picks one when it is left out. */
  sessionId: clientSessionIdSchema.optional(),
})

/** Progress: `inputs` and `outputs` deep-merge into what is stored; `currentStepIndex` replaces. */
export const updateSessionProgressInputSchema = z.strictObject({
  sessionId: identifier,
  currentStepIndex: z.number().int().min(0).max(MAX_STEP_INDEX).optional(),
  inputs: z.record(z.string(), z.unknown()).optional(),
  outputs: z.record(z.string(), mediaReferenceSchema).optional(),
})

export const completeSessionInputSchema = z.strictObject({
  sessionId: identifier,
})

// PostgreSQL's text cannot hold U+0000, so the server refuses it in every stored string.
const reason = z
  .string()
  .min(1)
  .max(MAX_REASON_LENGTH)
  .refine((text) => !text.includes('\u0000'), {
    message: 'must not contain the NUL character (U+0000)',
  })

/** The guest left; `reason` (optional) is kept as the session's `endReason`. */
export const abandonSessionInputSchema = z.strictObject({
  sessionId: identifier,
  reason: reason.optional(),
})

/** The experience failed (an AI step, a lost camera); `reason` is required. */
export const failSessionInputSchema = z.strictObject({
  sessionId: identifier,
  reason,
})

/** The filters of a listing, as the server's query parameters. */
export const sessionListFiltersSchema = z.strictObject({
  eventId: identifier.optional(),
  experienceId: identifier.optional(),
  status: sessionStatusSchema.optional(),
  mode: sessionModeSchema.optional(),
  limit: z.number().int().min(1).max(500).optional(),
  cursor: z.string().min(1).max(512).optional(),
})

/** A session's version, as `If-Match` names it. */
export const versionSchema = z.number().int().min(1)

/** The path parameters every operation takes. */
export const projectIdSchema = identifier
export const sessionIdSchema = identifier
