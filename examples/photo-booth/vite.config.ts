import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

// The API allows exactly the origins listed in SESSION_RUNTIME_CORS_ORIGINS, so the dev server
// keeps its port rather than moving to another one (another origin) when 5173 is taken.
export default defineConfig({
  plugins: [react()],
  server: { port: 5173, strictPort: true },
  preview: { port: 4173, strictPort: true },
})
