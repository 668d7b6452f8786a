import { defineConfig } from "vitest/config"
import projects from "./vitest.workspace.js"

export default defineConfig({
  test: {
    projects,
    // The JSON report is what `.ci/run` counts its closing "N passed, N failed" line from.
    reporters: ["default", ["json", { outputFile: ".vitest-report.json" }]]
  }
})
