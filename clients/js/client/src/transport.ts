/**
 * The one way a request leaves the client: the base URL, a fresh token from the getter for every
 * request (in the `Authorization` header, never in a URL), JSON in and out, and every refusal or
 * lost connection turned into the error tree by `errors.ts`.
 */
import {
  SessionRuntimeError,
  UnauthenticatedError,
  errorFromResponse,
  errorFromUnreadableResponse,
  networkErrorFrom,
} from './errors'

export type TokenGetter = () => string | null | Promise<string | null>

export interface TransportOptions {
  baseUrl: string
  getToken: TokenGetter
  fetch?: typeof fetch
}

export interface JsonRequest {
  method: 'GET' | 'POST' | 'PATCH'
  path: string
  query?: Record<string, string | number | undefined>
  body?: unknown
  headers?: Record<string, string>
  signal?: AbortSignal
}

/** `/v1/projects/{p}/sessions/{s}` with each id URL-encoded. */
export function sessionPath(projectId: string, sessionId?: string, action?: string): string {
  let path = `/v1/projects/${encodeURIComponent(projectId)}/sessions`
  if (sessionId !== undefined) path += `/${encodeURIComponent(sessionId)}`
  if (action !== undefined) path += `/${action}`
  return path
}

export class Transport {
  readonly baseUrl: string
  private readonly getToken: TokenGetter
  private readonly fetchImplementation: typeof fetch

  constructor(options: TransportOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '')
    this.getToken = options.getToken
    const fetchImplementation = options.fetch ?? globalThis.fetch
    if (typeof fetchImplementation !== 'function') {
      throw new TypeError('no fetch: pass options.fetch where globalThis.fetch is missing')
    }
    // Called unbound, a browser's fetch throws "Illegal invocation".
    this.fetchImplementation = (input, init) => fetchImplementation(input, init)
  }

  /** A fresh token from the getter; a getter that throws is an `UnauthenticatedError`. */
  async token(): Promise<string | null> {
    try {
      return (await this.getToken()) || null
    } catch (cause) {
      if (cause instanceof SessionRuntimeError) throw cause
      throw new UnauthenticatedError('the token getter failed', { status: null, cause })
    }
  }

  /** The headers every request carries: the bearer token when the getter gives one. */
  async authorizationHeaders(): Promise<Record<string, string>> {
    const token = await this.token()
    return token === null ? {} : { authorization: `Bearer ${token}` }
  }

  url(path: string, query?: Record<string, string | number | undefined>): string {
    const search = new URLSearchParams()
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined) search.set(name, String(value))
    }
    const text = search.toString()
    return `${this.baseUrl}${path}${text ? `?${text}` : ''}`
  }

  /** Send `init` to `path`; a request that gets no answer is a `NetworkError`. */
  async send(url: string, init: RequestInit): Promise<Response> {
    try {
      return await this.fetchImplementation(url, init)
    } catch (cause) {
      throw networkErrorFrom(cause, `${init.method ?? 'GET'} ${url}`)
    }
  }

  /** One JSON operation: its parsed answer, or the error the server's body names. */
  async json<Result>(request: JsonRequest): Promise<Result> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...(await this.authorizationHeaders()),
      ...request.headers,
    }
    const init: RequestInit = { method: request.method, headers }
    if (request.body !== undefined) {
      headers['content-type'] = 'application/json'
      init.body = JSON.stringify(request.body)
    }
    if (request.signal !== undefined) init.signal = request.signal
    const url = this.url(request.path, request.query)
    const response = await this.send(url, init)
    let text: string
    try {
      text = await response.text()
    } catch (cause) {
      throw networkErrorFrom(cause, `${request.method} ${url}`)
    }
    if (!response.ok) throw errorFromText(response, text)
    try {
      return JSON.parse(text) as Result
    } catch (cause) {
      throw errorFromUnreadableResponse(response.status, cause)
    }
  }
}

/** The error of a refused answer, whose body may or may not be our JSON error body. */
export function errorFromText(response: Response, text: string): SessionRuntimeError {
  let body: unknown = null
  try {
    body = text ? JSON.parse(text) : null
  } catch {
    // not our body (a proxy's page): the status decides
  }
  return errorFromResponse(response.status, body, response.headers)
}
