import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Native kernels use all cores themselves: run test files one at a time.
    fileParallelism: false,
  },
});
