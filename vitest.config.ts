import { defineConfig } from "vitest/config";

const shared = { testTimeout: 30_000, hookTimeout: 60_000 };

export default defineConfig({
  test: {
    projects: [
      {
        // Suites use private schemas and their own ports, so files run side by side.
        test: { ...shared, name: "suite", include: ["test/**/*.test.ts"], exclude: ["test/cluster/**"], sequence: { groupOrder: 0 } },
      },
      {
        // Each cluster file runs 2-4 instances as processes and checks leases and handovers in
        // seconds: on a 2-core machine they run one at a time, after the rest, so no other suite
        // starves them past a lease.
        test: { ...shared, name: "cluster", include: ["test/cluster/**/*.test.ts"], fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
