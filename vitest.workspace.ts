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
  project("postgres", "packages/postgres"),
  project("reliability", "packages/reliability"),
  project("examples", "examples")
] satisfies Array<TestProjectConfiguration>
