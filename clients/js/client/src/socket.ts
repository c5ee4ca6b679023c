/**
 * The `/v1/ws` protocol: one WebSocket carrying many subscriptions, sessions and whole projects.
 *
 * The token goes in the first message (`{"type": "auth", "token"}`), never in the URL. After a
 * lost connection the socket reconnects by itself (exponential backoff, full jitter), asks the
 * token getter again, authenticates and subscribes everything again; a session's snapshots are
 * still delivered once each, in version order. A refused `auth` (close code 4401) is final.
 * A `ping` goes out when the connection is quiet; one that hears nothing, not even a `pong`,
 * for `idleTimeoutMs` is presumed dead (a sleeping laptop, a dropped NAT entry) and replaced.
 */
import { DEFAULT_RECONNECT, reconnectDelay, type ReconnectOptions } from './backoff'
import {
  NetworkError,
  SessionRuntimeError,
  UnauthenticatedError,
  errorFromErrorBody,
} from './errors'
import { reportFailure, type ErrorReporter } from './reporter'
import type { SessionListener, Unsubscribe } from './subscription'
import type { Session } from './types'

export interface ProjectListener {
  /** A session of the project changed (or was created). */
  onChange(session: Session): void
  /** A refusal (`willRetry` false: the subscription is over) or a lost connection (true). */
  onError?(error: SessionRuntimeError, info: { willRetry: boolean }): void
}

export interface SessionSocket {
  subscribeSession(projectId: string, sessionId: string, listener: SessionListener): Unsubscribe
  /** Every change of every session of the project (members only). */
  subscribeProject(projectId: string, listener: ProjectListener): Unsubscribe
  /** Close the connection and end every subscription. */
  close(): void
}

export interface SocketContext {
  baseUrl: string
  authorizationToken: () => Promise<string | null>
  reporter: ErrorReporter | undefined
  reconnect: ReconnectOptions
  WebSocket: typeof WebSocket | undefined
}

const CLOSE_UNAUTHENTICATED = 4401
const OPEN = 1
const CLOSED = 3

type Subscription =
  | {
      kind: 'session'
      projectId: string
      sessionId: string
      listener: SessionListener
      last: Session | null
    }
  | { kind: 'project'; projectId: string; listener: ProjectListener }

type ServerMessage =
  | { type: 'authenticated' }
  | { type: 'snapshot'; id: string; session: Session }
  | { type: 'end'; id: string; status: string }
  | { type: 'change'; id: string; session: Session }
  | { type: 'subscribed' | 'unsubscribed'; id: string }
  | { type: 'error'; id: string | null; error: unknown }
  | { type: 'pong' }

/** Open a socket now; subscriptions made before it is ready are sent once it is. */
export function openSessionSocket(context: SocketContext): SessionSocket {
  return new MultiplexedSocket(context)
}

class MultiplexedSocket implements SessionSocket {
  private readonly subscriptions = new Map<string, Subscription>()
  private nextId = 1
  private socket: WebSocket | null = null
  private isAuthenticated = false
  private isClosed = false
  private attempt = 0
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined
  private lastHeardAt = 0
  private readonly idleTimeoutMs: number

  constructor(private readonly context: SocketContext) {
    if (context.WebSocket === undefined) {
      throw new TypeError('no WebSocket: pass options.WebSocket (on Node 20, the ws package)')
    }
    this.idleTimeoutMs = context.reconnect.idleTimeoutMs ?? DEFAULT_RECONNECT.idleTimeoutMs
    void this.connect()
  }

  subscribeSession(projectId: string, sessionId: string, listener: SessionListener): Unsubscribe {
    return this.add({ kind: 'session', projectId, sessionId, listener, last: null })
  }

  subscribeProject(projectId: string, listener: ProjectListener): Unsubscribe {
    return this.add({ kind: 'project', projectId, listener })
  }

  close(): void {
    this.isClosed = true
    clearTimeout(this.reconnectTimer)
    clearInterval(this.heartbeatTimer)
    this.subscriptions.clear()
    this.socket?.close(1000)
    this.socket = null
  }

  private add(subscription: Subscription): Unsubscribe {
    const id = `s${this.nextId++}`
    if (this.isClosed) return () => {}
    this.subscriptions.set(id, subscription)
    if (this.isAuthenticated) this.sendSubscribe(id, subscription)
    return () => {
      if (!this.subscriptions.delete(id)) return
      if (this.isAuthenticated) this.send({ type: 'unsubscribe', id })
    }
  }

  private async connect(): Promise<void> {
    const url = `${this.context.baseUrl.replace(/^http/, 'ws')}/v1/ws`
    let token: string | null
    try {
      token = await this.context.authorizationToken()
    } catch (error) {
      // As for SSE: a getter that fails now may succeed later (a token being refreshed).
      if (!this.isClosed) this.scheduleReconnect(error as SessionRuntimeError)
      return
    }
    if (this.isClosed) return
    const WebSocketClass = this.context.WebSocket as typeof WebSocket
    let socket: WebSocket
    try {
      socket = new WebSocketClass(url)
    } catch (cause) {
      // A URL the WebSocket refuses (or a page policy that forbids it): waiting will not help.
      this.failAll(new NetworkError(`cannot open a WebSocket to ${url}`, { cause }))
      return
    }
    this.socket = socket
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: 'auth', token: token ?? '' }))
      this.startHeartbeat(socket)
    }
    socket.onmessage = (event: MessageEvent) => {
      if (this.socket !== socket) return
      this.lastHeardAt = Date.now()
      let message: ServerMessage
      try {
        message = JSON.parse(String(event.data)) as ServerMessage
      } catch {
        return // not our protocol; nothing to act on
      }
      this.handle(message)
    }
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket) return
      if (event.code === CLOSE_UNAUTHENTICATED) {
        this.forget(socket)
        this.failAll(new UnauthenticatedError('the WebSocket refused the token'))
        return
      }
      this.lose(socket)
    }
    socket.onerror = () => {
      // Always followed by `close`, which decides what happens next.
    }
  }

  private startHeartbeat(socket: WebSocket): void {
    this.lastHeardAt = Date.now()
    clearInterval(this.heartbeatTimer)
    this.heartbeatTimer = setInterval(
      () => {
        if (this.socket !== socket) return
        if (Date.now() - this.lastHeardAt > this.idleTimeoutMs) {
          this.lose(socket)
          return
        }
        this.send({ type: 'ping' })
      },
      Math.max(10, Math.floor(this.idleTimeoutMs / 3)),
    )
  }

  /** Stop listening to `socket`: it is no longer the connection. */
  private forget(socket: WebSocket): void {
    if (this.socket === socket) this.socket = null
    this.isAuthenticated = false
    clearInterval(this.heartbeatTimer)
  }

  /** `socket` was lost (closed, or silent too long): replace it unless the socket was closed. */
  private lose(socket: WebSocket): void {
    this.forget(socket)
    if (socket.readyState !== CLOSED) socket.close()
    if (this.isClosed) return
    this.scheduleReconnect()
  }

  private scheduleReconnect(
    lost: SessionRuntimeError = new NetworkError('the WebSocket connection was lost; reconnecting'),
  ): void {
    for (const subscription of this.subscriptions.values()) {
      subscription.listener.onError?.(lost, { willRetry: true })
    }
    const delay = reconnectDelay(this.attempt, this.context.reconnect)
    this.attempt += 1
    this.reconnectTimer = setTimeout(() => void this.connect(), delay)
  }

  private handle(message: ServerMessage): void {
    switch (message.type) {
      case 'authenticated':
        this.isAuthenticated = true
        this.attempt = 0
        for (const [id, subscription] of this.subscriptions) this.sendSubscribe(id, subscription)
        return
      case 'snapshot': {
        const subscription = this.subscriptions.get(message.id)
        if (subscription?.kind !== 'session') return
        if (subscription.last !== null && message.session.version <= subscription.last.version)
          return
        subscription.last = message.session
        subscription.listener.onSnapshot(message.session)
        return
      }
      case 'end': {
        const subscription = this.subscriptions.get(message.id)
        if (subscription?.kind !== 'session') return
        this.subscriptions.delete(message.id)
        if (subscription.last !== null) subscription.listener.onEnd?.(subscription.last)
        return
      }
      case 'change': {
        const subscription = this.subscriptions.get(message.id)
        if (subscription?.kind === 'project') subscription.listener.onChange(message.session)
        return
      }
      case 'error': {
        const error = errorFromErrorBody(message.error)
        if (message.id === null) {
          // A refused auth is followed by close 4401; anything else concerns no subscription.
          return
        }
        const subscription = this.subscriptions.get(message.id)
        if (subscription === undefined) return
        this.subscriptions.delete(message.id)
        reportFailure(this.context.reporter, error, 'subscribe')
        subscription.listener.onError?.(error, { willRetry: false })
        return
      }
      default:
        return
    }
  }

  private sendSubscribe(id: string, subscription: Subscription): void {
    const message: Record<string, string> = {
      type: 'subscribe',
      id,
      projectId: subscription.projectId,
    }
    if (subscription.kind === 'session') message['sessionId'] = subscription.sessionId
    this.send(message)
  }

  private send(message: Record<string, string>): void {
    if (this.socket?.readyState === OPEN) this.socket.send(JSON.stringify(message))
  }

  /** End every subscription with `error`: the socket will not reconnect. */
  private failAll(error: SessionRuntimeError): void {
    this.isClosed = true
    reportFailure(this.context.reporter, error, 'subscribe')
    const subscriptions = [...this.subscriptions.values()]
    this.subscriptions.clear()
    for (const subscription of subscriptions) {
      subscription.listener.onError?.(error, { willRetry: false })
    }
  }
}
