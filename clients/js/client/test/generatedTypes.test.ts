/**
 * `npm run check:types` catches drift: it passes on the committed types and fails, saying how to
 * fix it, when they differ from what the server's OpenAPI document gives now.
 */
import { execFile } from 'node:child_process'
import { copyFileSync, appendFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { repositoryRoot } from '../../testing/server'

const run = promisify(execFile)
const script = join(repositoryRoot, 'clients/js/scripts/generate-types.mjs')
const committed = join(repositoryRoot, 'clients/js/client/src/generated/openapi.ts')
const scratch = mkdtempSync(join(tmpdir(), 'session-runtime-check-types-'))

afterAll(() => rmSync(scratch, { recursive: true, force: true }))

async function check(typesFile: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run('node', [script, '--check'], {
      env: { ...process.env, SESSION_RUNTIME_TYPES_FILE: typesFile },
    })
    return { code: 0, output: stdout + stderr }
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string }
    return { code: failed.code, output: failed.stdout + failed.stderr }
  }
}

describe('check:types', () => {
  it('passes on the committed types', async () => {
    const result = await check(committed)
    expect(result).toMatchObject({ code: 0 })
    expect(result.output).toContain('matches')
  })

  it('fails on stale types and says to run npm run generate:types', async () => {
    const stale = join(scratch, 'openapi.ts')
    copyFileSync(committed, stale)
    appendFileSync(stale, '\nexport type RemovedFromTheServer = string\n')
    const result = await check(stale)
    expect(result.code).toBe(1)
    expect(result.output).toContain('npm run generate:types')
  })
})
