import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Suites use private schemas and their own ports, so files may run side by side.
    fileParallelism: true,
  },
});
