// One Vitest run over both packages; each project starts its own real server (globalSetup).
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    projects: ['clients/js/client', 'clients/js/react'],
  },
})
