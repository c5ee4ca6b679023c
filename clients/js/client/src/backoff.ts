/**
 * How long to wait before reconnecting: exponential backoff with full jitter (a uniformly random
 * delay between 0 and the capped exponential), so clients cut off together do not all come
 * back at the same instant.
 */

export interface ReconnectOptions {
  /** The cap of the first delay, in milliseconds (default 250). */
  initialDelayMs?: number
  /** The largest delay, in milliseconds (default 10 000). */
  maxDelayMs?: number
  /** A stream that sends nothing, not even the server's heartbeat, for this long is presumed
   * dead and reopened (default 45 000: three of the server's 15 s heartbeats). */
  idleTimeoutMs?: number
}

export const DEFAULT_RECONNECT = {
  initialDelayMs: 250,
  maxDelayMs: 10_000,
  idleTimeoutMs: 45_000,
} as const satisfies Required<ReconnectOptions>

/** The delay before reconnect number `attempt` (0 for the first after a loss). */
export function reconnectDelay(
  attempt: number,
  options: ReconnectOptions = {},
  random: () => number = Math.random,
): number {
  const initial = options.initialDelayMs ?? DEFAULT_RECONNECT.initialDelayMs
  const max = options.maxDelayMs ?? DEFAULT_RECONNECT.maxDelayMs
  // 2 ** 30 is far past any cap; it keeps the exponent from overflowing to Infinity.
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 30))
  return Math.floor(random() * ceiling)
}
