/**
 * The rules of writes that may be sent more than once, framework-free so that every adapter
 * (the React provider's offline mode today) applies the same ones:
 *
 * - a write gets its `Idempotency-Key` (and a create its session id) once, when it is made, so
 *   every later try, after a lost answer or a page reload, is the same request to the server;
 * - a lost connection, `503 UNAVAILABLE` and `429 RESOURCE_EXHAUSTED` are worth trying again,
 *   with backoff; any other refusal is final (retrying sends the same request and gets the same
 *   answer), so such a write is dropped and reported rather than blocking the writes behind it.
 */
import { reconnectDelay } from './backoff'
import { ResourceExhaustedError, UnavailableError } from './errors'

const URL_SAFE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'
// 24 characters of 6 random bits each: 144 bits, above the server's 128-bit floor.
const SESSION_ID_LENGTH = 24

/** A new session id for `createSession({ sessionId })`: 144 random bits, URL-safe, never
 * starting with `-` (the server refuses that). */
export function newSessionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(SESSION_ID_LENGTH))
  let text = ''
  for (const [index, byte] of bytes.entries()) {
    // `-` is last: the first character comes from the 63 before it; 256 % 64 === 0 keeps the rest even.
    text += index === 0 ? URL_SAFE_ALPHABET.charAt(byte % 63) : URL_SAFE_ALPHABET.charAt(byte % 64)
  }
  return text
}

/** A new `Idempotency-Key` (a random UUID). */
export function newIdempotencyKey(): string {
  return crypto.randomUUID()
}

/** Whether sending the same write again may succeed: a lost connection, 503 or 429. A
 * `RESOURCE_EXHAUSTED` that is not a 429 (a session over its size limit, 413) is final. */
export function isRetryableFailure(error: unknown): boolean {
  if (error instanceof UnavailableError) return true
  return error instanceof ResourceExhaustedError && error.status === 429
}

/** The delay before try number `failureCount + 1` of a write: exponential with full jitter,
 * from 500 ms up to 30 s. */
export function writeRetryDelay(failureCount: number): number {
  return reconnectDelay(failureCount, { initialDelayMs: 500, maxDelayMs: 30_000 })
}
