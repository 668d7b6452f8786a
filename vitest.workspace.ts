import type { TestProjectConfiguration } from "vitest/config"

const project = (name: string, root: string, include = ["test/**/*.test.ts"]): TestProjectConfiguration => ({
  test: {
    name,
    root,
    include,
    testTimeout: 60_000,
    hookTimeout: 120_000
  }
})

export default [
  project("core", "packages/core"),
  project("store", "packages/store"),
  project("loader", "packages/loader"),
  project("sql", "packages/sql"),
  project("cluster", "packages/cluster"),
  project("postgres", "packages/postgres"),
  project("admin", "packages/admin"),
  {
    test: {
      ...project("reliability", "packages/reliability").test,
      // Long-running sections (crash loop, equivalence at scale); the global setup collects the figures
      // every test file writes and prints them in one block at the end of the run.
      testTimeout: 600_000,
      hookTimeout: 300_000,
      globalSetup: ["./test/globalSetup.ts"]
    }
  },
  project("examples", "examples"),
  project("packaging", "packages/packaging")
] satisfies Array<TestProjectConfiguration>
