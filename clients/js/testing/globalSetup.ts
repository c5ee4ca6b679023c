/**
 * Vitest `globalSetup`: one real server for the whole run, its ids and tokens handed to the tests
 * with `provide` (read them with `inject('server')`), stopped and its directory removed after.
 */
import type { TestProject } from 'vitest/node'
import { removeDirectory, seedDatabase, startServer, type SeededDatabase } from './server'

export interface ProvidedServer extends Omit<SeededDatabase, 'directory'> {
  baseUrl: string
}

declare module 'vitest' {
  export interface ProvidedContext {
    server: ProvidedServer
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const seeded = await seedDatabase()
  const server = await startServer(seeded.database)
  const { directory: _directory, ...values } = seeded
  project.provide('server', { ...values, baseUrl: server.baseUrl })
  return async () => {
    await server.stop()
    removeDirectory(seeded.directory)
  }
}
