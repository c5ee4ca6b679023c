/**
 * A real session-runtime server for the JavaScript tests: `session-runtime init` seeds a fresh
 * SQLite file in a temporary directory, `session-runtime serve` runs it on a free port of
 * 127.0.0.1, and the tokens the tests need are made with `session-runtime tokens create`.
 * Nothing is mocked: the tests speak real HTTP, SSE and WebSocket to it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)

export const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')

/** The command line: `<repo>/.venv/bin/session-runtime`, or `SESSION_RUNTIME_CLI`. */
export const cli =
  process.env['SESSION_RUNTIME_CLI'] ?? join(repositoryRoot, '.venv/bin/session-runtime')

/** What `init` made, and the extra tokens the tests use. */
export interface SeededDatabase {
  directory: string
  database: string
  projectId: string
  eventId: string
  experienceId: string
  ownerToken: string
  guestToken: string
  /** A second guest of the same project: it may not read the first guest's sessions. */
  otherGuestToken: string
  /** A member who may read but not write. */
  viewerToken: string
}

async function runCli(args: string[]): Promise<Record<string, string>> {
  const { stdout } = await run(cli, args, { env: serverEnvironment(), maxBuffer: 1 << 20 })
  return JSON.parse(stdout) as Record<string, string>
}

function serverEnvironment(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    // The tests make many requests a second with one token; limits have their own tests.
    SESSION_RUNTIME_RATE_LIMIT_PER_SECOND: '0',
    SESSION_RUNTIME_STALE_AFTER_SECONDS: '0',
  }
}

function field(values: Record<string, string>, name: string): string {
  const value = values[name]
  if (typeof value !== 'string') throw new Error(`session-runtime printed no ${name}`)
  return value
}

/** A fresh database in a new temporary directory, with its project and tokens. */
export async function seedDatabase(): Promise<SeededDatabase> {
  const directory = mkdtempSync(join(tmpdir(), 'session-runtime-js-'))
  const database = join(directory, 'db.sqlite')
  const seeded = await runCli(['init', '--database', database, '--json'])
  const projectId = field(seeded, 'projectId')
  const eventId = field(seeded, 'eventId')
  const otherGuest = await runCli([
    'tokens',
    'create',
    '--project',
    projectId,
    '--guest',
    '--event',
    eventId,
    '--database',
    database,
    '--json',
  ])
  const viewer = await runCli([
    'tokens',
    'create',
    '--project',
    projectId,
    '--user',
    'vera',
    '--role',
    'viewer',
    '--database',
    database,
    '--json',
  ])
  return {
    directory,
    database,
    projectId,
    eventId,
    experienceId: field(seeded, 'experienceId'),
    ownerToken: field(seeded, 'ownerToken'),
    guestToken: field(seeded, 'guestToken'),
    otherGuestToken: field(otherGuest, 'token'),
    viewerToken: field(viewer, 'token'),
  }
}

/** A new guest token of `projectId` in `database`: `{tokenId, token}`. */
export async function createGuestToken(
  database: string,
  projectId: string,
): Promise<{ tokenId: string; token: string }> {
  const created = await runCli([
    'tokens',
    'create',
    '--project',
    projectId,
    '--guest',
    '--database',
    database,
    '--json',
  ])
  return { tokenId: field(created, 'tokenId'), token: field(created, 'token') }
}

/** Revoke a token at once (a server notices within its token cache time). */
export async function revokeToken(database: string, tokenId: string): Promise<void> {
  await runCli(['tokens', 'revoke', tokenId, '--database', database, '--json'])
}

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      probe.close(() => resolvePort(port))
    })
  })
}

export interface RunningServer {
  baseUrl: string
  port: number
  /** Freeze the process (SIGSTOP): connections stay open and nothing answers, as on a dead
   * network path; `resume()` (SIGCONT) thaws it. */
  pause(): void
  resume(): void
  /** Stop the process (SIGTERM: open streams are cut after the server's grace period). */
  stop(): Promise<void>
}

/** Wait until `check` is true, polling; fail after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  { timeoutMs = 20_000, intervalMs = 50, what = 'a condition' } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (let attempt = 0; attempt < Math.ceil(timeoutMs / intervalMs) + 1; attempt += 1) {
    if (await check()) return
    if (Date.now() > deadline) break
    await new Promise((wake) => setTimeout(wake, intervalMs))
  }
  throw new Error(`timed out waiting for ${what}`)
}

async function isHealthy(baseUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${baseUrl}/healthz`)
    await response.body?.cancel()
    return response.ok
  } catch {
    return false
  }
}

/** Serve `database` on `port` (a free one when not given) until `stop()`; `environment` adds
 * settings (`SESSION_RUNTIME_HEARTBEAT_SECONDS`, ...). */
export async function startServer(
  database: string,
  port?: number,
  environment: Record<string, string> = {},
): Promise<RunningServer> {
  const chosenPort = port ?? (await freePort())
  const baseUrl = `http://127.0.0.1:${chosenPort}`
  const child: ChildProcess = spawn(
    cli,
    ['serve', '--host', '127.0.0.1', '--port', String(chosenPort), '--database', database],
    { env: { ...serverEnvironment(), ...environment }, stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let errorOutput = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    errorOutput = (errorOutput + chunk.toString()).slice(-4000)
  })
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()))
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null)
          throw new Error(`session-runtime serve exited:\n${errorOutput}`)
        return isHealthy(baseUrl)
      },
      { what: `${baseUrl}/healthz` },
    )
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  }
  return {
    baseUrl,
    port: chosenPort,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGCONT')
      child.kill('SIGTERM')
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(killer)
    },
  }
}

export function removeDirectory(directory: string): void {
  rmSync(directory, { recursive: true, force: true })
}
