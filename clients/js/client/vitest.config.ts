import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    name: 'client',
    environment: 'node',
    include: ['test/**/*.test.ts'],
    globalSetup: ['../testing/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
