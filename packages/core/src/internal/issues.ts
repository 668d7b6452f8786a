/**
 * @internal
 * One line listing every problem of a SchemaError (or SchemaIssue) with its path.
 */
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"

const quote = (s: string): string => JSON.stringify(s)

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.map((key, i) =>
    typeof key === "number" ?
      `[${key}]` :
      typeof key === "string" && IDENTIFIER.test(key) ?
      (i === 0 ? key : `.${key}`) :
      `[${quote(String(key))}]`
  ).join("")

const flatten = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * Every problem of a `SchemaError`, each with the path where the Schema found it, in one line:
 * `strategies[0].n: expected a positive integer, got 0` for one problem,
 * `2 problems: strategies[0].n: ...; strategies[1].duration: ...` for more. Decode with `{ errors: "all" }` to
 * get every problem rather than the first.
 */
export const formatIssues = (error: Schema.SchemaError | SchemaIssue.Issue): string => {
  const issue = Schema.isSchemaError(error) ? error.issue : error
  const problems = flatten(issue).issues.map((issue) => {
    const path = (issue.path ?? []).map((segment) => typeof segment === "object" ? segment.key : segment)
    return path.length === 0 ? issue.message : `${formatPath(path)}: ${issue.message}`
  })
  return problems.length === 1 ? problems[0]! : `${problems.length} problems: ${problems.join("; ")}`
}
