// @ts-check
import * as effectEslint from "@effect/eslint-plugin"
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript"
import { importX } from "eslint-plugin-import-x"
import tseslint from "typescript-eslint"

export default tseslint.config(
  { ignores: ["**/build/**", "**/dist/**", "**/node_modules/**", "**/coverage/**", "**/bench-results/**"] },
  ...tseslint.configs.recommended,
  ...effectEslint.configs.dprint,
  {
    rules: {
      "@typescript-eslint/array-type": ["error", { default: "generic", readonly: "generic" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-namespace": "off",
      "@effect/dprint": [
        "error",
        {
          config: {
            indentWidth: 2,
            lineWidth: 120,
            semiColons: "asi",
            quoteStyle: "alwaysDouble",
            trailingCommas: "never",
            operatorPosition: "maintain",
            "arrowFunction.useParentheses": "force"
          }
        }
      ]
    }
  },
  {
    // No import cycles (issue 12): `import type` is not followed, so an internal module may import its public
    // module's types, never its values. The TypeScript resolver maps `./X.js` specifiers to `./X.ts` and the
    // workspace packages to their sources, so a cycle through another package is found too.
    files: ["**/*.ts"],
    plugins: { "import-x": importX },
    settings: {
      // Without these, import-x parses only `.js` files and silently finds no cycle through a `.ts` one.
      "import-x/extensions": [".ts"],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
      "import-x/resolver-next": [
        createTypeScriptImportResolver({
          project: ["packages/*/tsconfig.json", "examples/tsconfig.json"],
          noWarnOnMultipleProjects: true
        })
      ]
    },
    rules: {
      "import-x/no-cycle": ["error", { ignoreExternal: true }]
    }
  }
)
