/**
 * One session, live, over server-sent events read with `fetch` (a browser's `EventSource` cannot
 * send an `Authorization` header, and a token never goes into a URL). The stream is parsed by
 * `eventsource-parser`.
 *
 * - The current snapshot comes first, then one per change, each delivered once and in version
 *   order: a snapshot not newer than the last one delivered is dropped.
 * - A lost stream is reopened with `Last-Event-ID: <last version delivered>` after an
 *   exponential backoff with full jitter, calling the token getter again, so a page may refresh
 *   its token in between. The server then sends only what is newer: nothing twice, nothing missed.
 * - 401, 403, 404 (any 4xx but 408 and 429) are final: a token or a session that will not
 *   change by waiting. So is `event: end` once the session is final. 429, 5xx and network
 *   losses retry, a 429 no sooner than its `Retry-After`. An `event: error` (the server's
 *   error body, sent when the token lapses mid-stream) is a refusal like the others.
 */
import { createParser } from 'eventsource-parser'
import { DEFAULT_RECONNECT, reconnectDelay, type ReconnectOptions } from './backoff'
import {
  InternalError,
  NetworkError,
  ResourceExhaustedError,
  SessionRuntimeError,
  errorFromResponse,
  networkErrorFrom,
} from './errors'
import { reportFailure, type ErrorReporter } from './reporter'
import { errorFromText, sessionPath, type Transport } from './transport'
import type { Session } from './types'

/** What a subscriber hears. */
export interface SessionListener {
  /** The current snapshot first, then one per change, in version order. */
  onSnapshot(session: Session): void
  /** The session became final (`session` is its final snapshot): the stream is over. */
  onEnd?(session: Session): void
  /** A refusal (`willRetry` false: the subscription is over) or a transient loss (`willRetry`
   * true: it reconnects by itself). */
  onError?(error: SessionRuntimeError, info: { willRetry: boolean }): void
}

export type Unsubscribe = () => void

/** A refusal that waiting will not change: any 4xx but a timeout (408) or a rate limit (429).
 * In practice 401, 403 and 404. */
function isFinalRefusal(error: SessionRuntimeError): boolean {
  const { status } = error
  return status !== null && status >= 400 && status < 500 && status !== 408 && status !== 429
}

interface SubscriptionContext {
  transport: Transport
  reporter: ErrorReporter | undefined
  reconnect: ReconnectOptions
}

/** Open the session's event stream; the returned function closes it for good. */
export function subscribeSessionEvents(
  context: SubscriptionContext,
  projectId: string,
  sessionId: string,
  listener: SessionListener,
): Unsubscribe {
  const subscription = new SessionEventStream(context, projectId, sessionId, listener)
  void subscription.run()
  return () => subscription.stop()
}

class SessionEventStream {
  private isStopped = false
  private lastSession: Session | null = null
  private controller: AbortController | null = null
  private wakeUp: (() => void) | null = null
  private readonly idleTimeoutMs: number

  constructor(
    private readonly context: SubscriptionContext,
    private readonly projectId: string,
    private readonly sessionId: string,
    private readonly listener: SessionListener,
  ) {
    this.idleTimeoutMs = context.reconnect.idleTimeoutMs ?? DEFAULT_RECONNECT.idleTimeoutMs
  }

  stop(): void {
    this.isStopped = true
    this.controller?.abort()
    this.wakeUp?.()
  }

  /** Connect, read, and reconnect until the session ends, a refusal is final, or `stop()`. */
  async run(): Promise<void> {
    let attempt = 0
    while (!this.isStopped) {
      let retryAfterMs = 0
      try {
        const outcome = await this.readOnce()
        if (outcome === 'ended' || this.isStopped) return
        if (outcome === 'delivered') attempt = 0
        // The stream closed without `end` (a server restart): reopen it.
      } catch (caught) {
        if (this.isStopped) return
        const error = asSessionRuntimeError(caught)
        const isFinal = isFinalRefusal(error)
        if (isFinal) reportFailure(this.context.reporter, error, 'subscribe')
        this.listener.onError?.(error, { willRetry: !isFinal })
        if (isFinal) {
          this.isStopped = true
          return
        }
        if (error instanceof ResourceExhaustedError && error.retryAfterSeconds !== null) {
          retryAfterMs = error.retryAfterSeconds * 1000
        }
      }
      const delay = Math.max(retryAfterMs, reconnectDelay(attempt, this.context.reconnect))
      attempt += 1
      await this.sleep(delay)
    }
  }

  /** One connection: `'ended'` after `event: end`, else whether anything new was delivered. */
  private async readOnce(): Promise<'ended' | 'delivered' | 'nothing'> {
    const { transport } = this.context
    const headers: Record<string, string> = {
      accept: 'text/event-stream',
      ...(await transport.authorizationHeaders()),
    }
    if (this.lastSession !== null) headers['last-event-id'] = String(this.lastSession.version)
    const controller = new AbortController()
    this.controller = controller
    if (this.isStopped) controller.abort()
    // Silence for idleTimeoutMs, before the answer or between two chunks, means a dead
    // connection (the server answers every heartbeat interval, even with nothing to say).
    let idleTimer: ReturnType<typeof setTimeout> | undefined
    const armIdleTimer = () => {
      clearTimeout(idleTimer)
      idleTimer = setTimeout(() => controller.abort(), this.idleTimeoutMs)
    }
    armIdleTimer()
    try {
      const url = transport.url(sessionPath(this.projectId, this.sessionId, 'events'))
      const response = await transport.send(url, {
        method: 'GET',
        headers,
        signal: controller.signal,
        cache: 'no-store',
      })
      if (!response.ok) throw errorFromText(response, await response.text().catch(() => ''))
      if (response.body === null) throw new InternalError('the event stream has no body')
      return await this.readEvents(response.body, armIdleTimer)
    } finally {
      clearTimeout(idleTimer)
      controller.abort()
    }
  }

  /** Deliver the snapshots of one open stream until it ends, is cut, or breaks the protocol. */
  private async readEvents(
    body: NonNullable<Response['body']>,
    onChunk: () => void,
  ): Promise<'ended' | 'delivered' | 'nothing'> {
    let hasEnded = false
    let hasDelivered = false
    let failure: SessionRuntimeError | null = null
    const parser = createParser({
      onEvent: (event) => {
        if (hasEnded || failure !== null) return
        if (event.event === 'end') {
          hasEnded = true
          return
        }
        if (event.event === 'error') {
          // The server ends the stream this way when the token lapses (it was revoked).
          failure = errorFromResponse(null, parseJson(event.data))
          return
        }
        if (event.event !== undefined && event.event !== 'snapshot') return
        let session: Session
        try {
          session = JSON.parse(event.data) as Session
        } catch (cause) {
          failure = new InternalError('the event stream sent a snapshot that is not JSON', {
            cause,
          })
          return
        }
        if (this.deliver(session)) hasDelivered = true
      },
    })
    const reader = body.pipeThrough(new TextDecoderStream()).getReader()
    try {
      while (!hasEnded && failure === null && !this.isStopped) {
        let chunk: ReadableStreamReadResult<string>
        try {
          chunk = await reader.read()
        } catch (cause) {
          throw networkErrorFrom(cause, 'the event stream was cut')
        }
        if (chunk.done) break
        onChunk()
        parser.feed(chunk.value)
      }
    } finally {
      reader.releaseLock()
    }
    if (failure !== null) throw failure
    if (hasEnded) {
      this.isStopped = true
      if (this.lastSession !== null) this.listener.onEnd?.(this.lastSession)
      return 'ended'
    }
    return hasDelivered ? 'delivered' : 'nothing'
  }

  /** Hand `session` to the listener unless it is not newer than the last one delivered. */
  private deliver(session: Session): boolean {
    if (this.isStopped) return false
    if (this.lastSession !== null && session.version <= this.lastSession.version) return false
    this.lastSession = session
    try {
      this.listener.onSnapshot(session)
    } catch (error) {
      // The listener's own bug: shown as an uncaught error, without ending the subscription.
      queueMicrotask(() => {
        throw error
      })
    }
    return true
  }

  private sleep(milliseconds: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, milliseconds)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.wakeUp = () => {
        this.wakeUp = null
        done()
      }
    })
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}

function asSessionRuntimeError(caught: unknown): SessionRuntimeError {
  if (caught instanceof SessionRuntimeError) return caught
  return new NetworkError('the event stream failed', { cause: caught })
}
