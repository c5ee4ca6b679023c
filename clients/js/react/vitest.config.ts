import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    name: 'react',
    // jsdom keeps Node's own fetch and AbortController (happy-dom replaces them with its own,
    // which applies a page's same-origin rules to the test server).
    environment: 'jsdom',
    include: ['test/**/*.test.tsx'],
    globalSetup: ['../testing/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
