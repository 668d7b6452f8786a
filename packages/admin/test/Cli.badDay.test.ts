/**
 * The admin CLI on a bad day, as an operator runs it (a node + tsx subprocess), with no database needed: a
 * server that accepts TCP and never answers (`--timeout`, one line, exit code 2), SIGTERM and SIGINT while
 * it hangs (the process ends promptly, not with 0), and the usage errors and the help in a pipe.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { fixture, runCli, silentServer, startCli } from "./utils/cli.js"

// A node + tsx subprocess: ~10 s on an idle 2-CPU machine, ~100 s at a load average of 25.
const timeout = 600_000

const bin = fixture("shop-admin.ts")
const urlOf = (port: number) => `postgres://postgres@127.0.0.1:${port}/test`

describe("admin CLI on a bad day", () => {
  it.live(
    "a server that never answers: exit code 2 with one line once --timeout (default 10 seconds) has passed",
    () =>
      Effect.gen(function*() {
        const { port } = yield* silentServer
        const [byDefault, short] = yield* Effect.all([
          // Without the bound this ran until killed; killed here after 5 minutes.
          runCli(bin, ["stats"], { PG_URL: urlOf(port) }, { killAfterMillis: 300_000 }),
          runCli(bin, ["prune", "--keep-last", "1", "--timeout", "2 seconds", "--json"], { PG_URL: urlOf(port) }, {
            killAfterMillis: 300_000
          })
        ], { concurrency: 2 })
        assert.strictEqual(byDefault.code, 2, byDefault.stdout + byDefault.stderr)
        assert.strictEqual(byDefault.stdout, "")
        assert.strictEqual(
          byDefault.stderr,
          `error: cannot connect to PostgreSQL at 127.0.0.1:${port}/test (PG_URL) within 10 seconds\n`
        )
        assert.strictEqual(short.code, 2, short.stdout + short.stderr)
        assert.strictEqual(short.stdout, "")
        assert.strictEqual(
          short.stderr,
          `error: cannot connect to PostgreSQL at 127.0.0.1:${port}/test (PG_URL) within 2 seconds\n`
        )
      }).pipe(Effect.scoped),
    timeout
  )

  it.effect(
    "a bad --timeout is exit code 2 with one line naming the flag and the value",
    () =>
      Effect.gen(function*() {
        const [text, zero, negative] = yield* Effect.all([
          runCli(bin, ["stats", "--timeout", "soon"], { PG_URL: urlOf(1) }),
          runCli(bin, ["stats", "--timeout", "0 seconds"], { PG_URL: urlOf(1) }),
          runCli(bin, ["list", "Counter", "c-1", "--timeout=-1 seconds"], { PG_URL: urlOf(1) })
        ], { concurrency: 3 })
        for (const ran of [text, zero, negative]) {
          assert.strictEqual(ran.code, 2, ran.stdout + ran.stderr)
          assert.strictEqual(ran.stdout, "")
        }
        assert.strictEqual(text.stderr, "error: --timeout is not a duration: \"soon\" (try \"30 seconds\")\n")
        assert.strictEqual(zero.stderr, "error: --timeout must be > 0, got \"0 seconds\"\n")
        assert.strictEqual(negative.stderr, "error: --timeout must be > 0, got \"-1 seconds\"\n")
      }),
    timeout
  )

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it.live(
      `${signal} while the database hangs: the process ends promptly, with a code that is not 0`,
      () =>
        Effect.gen(function*() {
          const { connected, port } = yield* silentServer
          const started = startCli(bin, ["stats", "--timeout", "10 minutes"], { PG_URL: urlOf(port) })
          // Hanging in the connect: the server has its connection (a CLI that ended first is a failure).
          const early = yield* Effect.promise(() => Promise.race([connected.then(() => undefined), started.ended]))
          if (early !== undefined) assert.fail(`the CLI ended before it connected: ${early.code} ${early.stderr}`)
          const signalledAt = Date.now()
          started.child.kill(signal)
          const ended = yield* Effect.promise(() => started.ended).pipe(
            Effect.timeoutOrElse({
              duration: "60 seconds",
              orElse: () =>
                Effect.sync(() => {
                  started.child.kill("SIGKILL")
                  return assert.fail(`${signal} did not end the process within 60 s`)
                })
            })
          )
          assert.notStrictEqual(ended.code, 0, ended.stdout + ended.stderr)
          assert.strictEqual(ended.signal, null, "the CLI handles the signal and exits with a code")
          assert.strictEqual(ended.stdout, "")
          assert.notMatch(ended.stderr, /\n\s+at /, "no stack trace")
          // ~2 s asked; bounded generously for a loaded 2-core machine (it waited 10 minutes before).
          assert.isBelow(ended.endedAt - signalledAt, 20_000)
        }).pipe(Effect.scoped),
      timeout
    )
  }

  it.effect(
    "usage errors name the flag and the value; the help in a pipe has no ANSI codes and names the bin",
    () =>
      Effect.gen(function*() {
        const plain = { NO_COLOR: undefined, FORCE_COLOR: undefined, PG_URL: urlOf(1) }
        const [bogus, notInt, help, statsHelp, statsBogus] = yield* Effect.all([
          runCli(bin, ["prune", "--bogus"], plain),
          runCli(bin, ["prune", "--keep-last", "abc"], plain),
          runCli(bin, ["--help"], plain),
          runCli(bin, ["stats", "--help"], plain),
          runCli(bin, ["stats", "--bogus"], plain)
        ], { concurrency: 3 })
        assert.strictEqual(bogus.code, 2, bogus.stdout + bogus.stderr)
        assert.strictEqual(bogus.stdout, "")
        assert.include(bogus.stderr, "--bogus")
        assert.strictEqual(notInt.code, 2, notInt.stdout + notInt.stderr)
        assert.include(notInt.stderr, "--keep-last")
        assert.include(notInt.stderr, "\"abc\"")
        assert.notMatch(notInt.stderr, /\ba integer\b/)
        for (const ran of [bogus, notInt, statsBogus]) assert.notInclude(ran.stderr, "\u001b[", "no ANSI codes")

        assert.strictEqual(help.code, 0, help.stderr)
        assert.notInclude(help.stdout, "\u001b[", "no ANSI codes in a pipe")
        assert.match(help.stdout, /^ {2}shop-admin <subcommand> \[flags\]$/m)
        assert.notMatch(help.stdout, /\$ admin|^ {2}admin /m)
        assert.match(help.stdout, /--timeout/)
        assert.strictEqual(statsHelp.code, 0, statsHelp.stderr)
        assert.match(statsHelp.stdout, /^ {2}shop-admin stats \[flags\]$/m)
        assert.notInclude(statsHelp.stdout, "\u001b[")
        assert.strictEqual(statsBogus.code, 2)
        assert.include(statsBogus.stderr, "See `shop-admin stats --help`.")
      }),
    timeout
  )
})
