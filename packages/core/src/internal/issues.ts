/**
 * @internal
 * One line listing every problem of a ParseError with its path.
 */
import * as ParseResult from "effect/ParseResult"

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

/**
 * Every problem of a `ParseError`, each with the path where the Schema found it, in one line:
 * `strategies[0].n: expected a positive integer, got 0` for one problem,
 * `2 problems: strategies[0].n: ...; strategies[1].duration: ...` for more. Decode with `{ errors: "all" }` to
 * get every problem rather than the first.
 */
export const formatIssues = (error: ParseResult.ParseError | ParseResult.ParseIssue): string => {
  const issue = error._tag === "ParseError" ? error.issue : error
  const problems = ParseResult.ArrayFormatter.formatIssueSync(issue).map((issue) =>
    issue.path.length === 0 ? issue.message : `${formatPath(issue.path)}: ${issue.message}`
  )
  return problems.length === 1 ? problems[0]! : `${problems.length} problems: ${problems.join("; ")}`
}
