/**
 * Where the booth runs: the API, the project, event and experience it records sessions for,
 * and the guest token it acts with.
 *
 * The token is a secret: it comes only from the setup form and is kept in this browser's
 * localStorage, never in a URL (addresses end up in logs, history and screenshots). The other
 * values are not secret, so a link may carry them: `?api=...&project=...&event=...&experience=...`
 * prefills the form and wins over what was stored, so one address opens a configured booth.
 */

export interface BoothConfig {
  apiBaseUrl: string
  projectId: string
  eventId: string
  experienceId: string
  guestToken: string
}

const STORAGE_KEY = 'photo-booth.config'

const QUERY_PARAMETERS = {
  apiBaseUrl: 'api',
  projectId: 'project',
  eventId: 'event',
  experienceId: 'experience',
} as const satisfies Record<Exclude<keyof BoothConfig, 'guestToken'>, string>

const EMPTY_CONFIG: BoothConfig = {
  apiBaseUrl: '',
  projectId: '',
  eventId: '',
  experienceId: '',
  guestToken: '',
}

function readStoredConfig(): Partial<BoothConfig> {
  const stored = window.localStorage.getItem(STORAGE_KEY)
  if (stored === null) return {}
  try {
    const parsed: unknown = JSON.parse(stored)
    if (typeof parsed !== 'object' || parsed === null) return {}
    const values: Partial<BoothConfig> = {}
    for (const key of Object.keys(EMPTY_CONFIG) as (keyof BoothConfig)[]) {
      const value: unknown = (parsed as Record<string, unknown>)[key]
      if (typeof value === 'string') values[key] = value
    }
    return values
  } catch {
    return {} // a stored value this version cannot read: start from an empty form
  }
}

function readQueryConfig(search: string): Partial<BoothConfig> {
  const query = new URLSearchParams(search)
  const values: Partial<BoothConfig> = {}
  for (const [key, parameter] of Object.entries(QUERY_PARAMETERS)) {
    const value = query.get(parameter)?.trim()
    if (value) values[key as keyof typeof QUERY_PARAMETERS] = value
  }
  return values
}

/** The stored configuration, overridden by the non-secret values of the address. */
export function loadConfig(search: string = window.location.search): BoothConfig {
  return { ...EMPTY_CONFIG, ...readStoredConfig(), ...readQueryConfig(search) }
}

export function saveConfig(config: BoothConfig): void {
  window.localStorage.setItem(STORAGE_KEY, JSON.stringify(config))
}

export function isComplete(config: BoothConfig): boolean {
  return Object.values(config).every((value) => value.trim() !== '')
}

/** An address that opens `params` on this page with the non-secret configuration, never the token. */
export function linkTo(config: BoothConfig, params: Record<string, string>): string {
  const query = new URLSearchParams(params)
  for (const [key, parameter] of Object.entries(QUERY_PARAMETERS)) {
    query.set(parameter, config[key as keyof typeof QUERY_PARAMETERS])
  }
  return `${window.location.pathname}?${query.toString()}`
}
