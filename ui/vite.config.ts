/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      // The dashboard API (`tasklens api`), including its WebSocket.
      '/api': { target: 'http://127.0.0.1:8080', ws: true, changeOrigin: true },
    },
  },
  build: { sourcemap: false, chunkSizeWarningLimit: 250 },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test-setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
  },
});
