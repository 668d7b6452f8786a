/**
 * Run an example's program when its file is executed directly (`tsx examples/src/<name>.ts`), not when a
 * test imports it: print its result, or a one-line error and a non-zero exit code.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { pathToFileURL } from "node:url"

export const isMain = (moduleUrl: string): boolean =>
  process.argv[1] !== undefined && moduleUrl === pathToFileURL(process.argv[1]).href

export const runMain = <A, E>(moduleUrl: string, program: Effect.Effect<A, E>): void => {
  if (!isMain(moduleUrl)) return
  void Effect.runPromiseExit(program).then((exit) => {
    if (Exit.isSuccess(exit)) {
      console.log(JSON.stringify(exit.value, null, 2))
    } else {
      console.error(`Error: ${Cause.pretty(exit.cause).split("\n")[0]}`)
      process.exitCode = 1
    }
  })
}
