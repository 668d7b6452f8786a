/**
 * Bad input: invalid strategy configurations (JSON and Config), bad ids, events that do not match their
 * Schema, versions 0 or negative. Each must be refused with a typed error whose message names the problem,
 * and the database's row counts must be unchanged afterwards (counted on the server before and after).
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import { Postgres } from "@effect-snapshots/postgres"
import { Account, Pcg } from "@effect-snapshots/reliability"
import { SqlEventStore, SqlSnapshotStore } from "@effect-snapshots/sql"
import { Snapshot, SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it, layer } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { SqlClient } from "effect/sql"
import * as Stream from "effect/Stream"
import { record } from "./utils/figures.js"

interface Case<R = never> {
  readonly name: string
  readonly run: Effect.Effect<unknown, unknown, R>
  /** The expected error: its `_tag`, and what its message must say. */
  readonly tag: string
  readonly message: RegExp
  readonly reason?: string
}

/** Runs a case; answers what is wrong with its outcome, or undefined when it was refused as expected. */
const judge = <R>(c: Case<R>) =>
  Effect.map(Effect.exit(c.run), (exit): string | undefined => {
    if (Exit.isSuccess(exit)) return `${c.name}: accepted (${JSON.stringify(exit.value)?.slice(0, 80)})`
    const failure = Cause.findErrorOption(exit.cause)
    if (Option.isNone(failure)) return `${c.name}: not a typed failure: ${Cause.pretty(exit.cause).slice(0, 300)}`
    const error = failure.value as { _tag?: string; message?: string; reason?: string }
    const tag = error._tag
    if (tag !== c.tag) return `${c.name}: expected ${c.tag}, got ${tag}: ${error.message}`
    if (c.reason !== undefined && error.reason !== c.reason) {
      return `${c.name}: expected reason ${c.reason}, got ${error.reason}: ${error.message}`
    }
    const message = String(error.message ?? "")
    if (!c.message.test(message)) return `${c.name}: unclear message ${JSON.stringify(message.slice(-300))}`
    return undefined
  })

// ---------------------------------------------------------------------------------------------------------------
// strategies: JSON and Config
// ---------------------------------------------------------------------------------------------------------------

// Messages are multi-line parse trees: the patterns are matched with the `s` flag added.
const badStrategies: ReadonlyArray<readonly [string, string, RegExp]> = [
  ["n = 0", `{"_tag":"EveryNEvents","n":0}`, /positive integer.*0/],
  ["n negative", `{"_tag":"EventsSinceSnapshot","n":-5}`, /positive integer.*-5/],
  ["n fractional", `{"_tag":"EveryNEvents","n":1.5}`, /positive integer.*1\.5/],
  ["n as a string", `{"_tag":"EveryNEvents","n":"100"}`, /number.*"100"|"100".*number/i],
  ["n missing", `{"_tag":"ReplayedAtLeast"}`, /n.*missing|missing.*n/i],
  ["n beyond 2^53", `{"_tag":"ReplayedAtLeast","n":1e20}`, /positive integer/],
  ["unknown tag", `{"_tag":"EveryFullMoon","n":3}`, /EveryFullMoon/],
  ["no tag", `{"n":3}`, /_tag/],
  ["empty composite", `{"_tag":"Any","strategies":[]}`, /at least one strategy/],
  [
    "bad member deep in a composite",
    `{"_tag":"Any","strategies":[{"_tag":"All","strategies":[{"_tag":"EveryNEvents","n":0}]}]}`,
    /positive integer.*0/
  ],
  ["Not without its strategy", `{"_tag":"Not"}`, /strategy.*missing|missing/i],
  ["duration that is not one", `{"_tag":"AfterDuration","duration":"soon"}`, /duration.*"soon"/],
  ["negative duration", `{"_tag":"LoadTimeAtLeast","duration":"-5 millis"}`, /must not be negative/],
  ["infinite duration", `{"_tag":"AfterDuration","duration":"Infinity"}`, /finite/],
  ["no event types", `{"_tag":"OnEventTypes","types":[]}`, /at least one event type/],
  ["blank event type", `{"_tag":"OnEventTypes","types":["  "]}`, /event type must not be empty/],
  [
    "blank aggregate type",
    `{"_tag":"PerAggregateType","strategies":{"":{"_tag":"Always"}},"fallback":{"_tag":"Never"}}`,
    /aggregate type must not be empty/
  ],
  [
    "__proto__ as aggregate type",
    `{"_tag":"PerAggregateType","strategies":{"__proto__":{"_tag":"Always"}},"fallback":{"_tag":"Never"}}`,
    /__proto__/
  ],
  ["PerAggregateType without fallback", `{"_tag":"PerAggregateType","strategies":{}}`, /fallback/],
  ["blank custom name", `{"_tag":"Custom","name":""}`, /custom strategy name must not be empty/],
  ["truncated JSON", `{"_tag":"EveryNEvents","n":`, /JSON/i],
  ["null", `null`, /null/],
  ["an array", `[{"_tag":"Always"}]`, /_tag|Expected|expected/],
  ["a bare string", `"EveryNEvents"`, /EveryNEvents|expected/i]
]

const dotAll = (re: RegExp) => new RegExp(re.source, `${re.flags}s`)

/** Runs `effect` with a config provider over exactly these variables. */
const withEnv = <A, E, R>(effect: Effect.Effect<A, E, R>, env: Record<string, string>) =>
  Effect.provideService(effect, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

const jsonCases: ReadonlyArray<Case> = badStrategies.map(([name, text, message]) => ({
  name: `strategy JSON: ${name}`,
  // Effect 4's Schema leaves the rejected input out of its messages unless asked (Effect 3's formatter showed
  // it): decode as the library's own Config path does.
  run: Schema.decodeUnknownEffect(SnapshotStrategy.FromJson, { errors: "all", reportInput: true })(text),
  tag: "SchemaError",
  message: dotAll(message)
}))

const configCases: ReadonlyArray<Case> = [
  ...badStrategies.map(([name, text, message]): Case => ({
    name: `strategy Config: ${name}`,
    run: withEnv(SnapshotStrategy.config("SNAPSHOT_STRATEGY"), { SNAPSHOT_STRATEGY: text }),
    tag: "ConfigError",
    message: dotAll(message)
  })),
  {
    name: "strategy Config: key missing",
    run: withEnv(SnapshotStrategy.config("SNAPSHOT_STRATEGY"), {}),
    tag: "ConfigError",
    message: /Expected string[\s\S]*at \["SNAPSHOT_STRATEGY"\]/
  },
  {
    name: "strategy Config: bad per-type override",
    run: withEnv(SnapshotStrategy.configPerAggregateType("SNAPSHOT_STRATEGY", ["Account"]), {
      SNAPSHOT_STRATEGY: `{"_tag":"EveryNEvents","n":100}`,
      SNAPSHOT_STRATEGY_Account: `{"_tag":"EveryNEvents","n":-1}`
    }),
    tag: "ConfigError",
    message: /positive integer.*-1/
  },
  {
    name: "strategy Config: blank aggregate type",
    run: withEnv(SnapshotStrategy.configPerAggregateType("SNAPSHOT_STRATEGY", [""]), {
      SNAPSHOT_STRATEGY: `{"_tag":"Always"}`
    }),
    tag: "ConfigError",
    message: /aggregate type must not be empty/
  }
]

describe("bad input: strategies", () => {
  it.effect(`${jsonCases.length} invalid JSON and ${configCases.length} invalid Config strategies are refused`, () =>
    Effect.gen(function*() {
      const problems: Array<string> = []
      for (const c of [...jsonCases, ...configCases]) {
        const problem = yield* judge(c)
        if (problem !== undefined) problems.push(problem)
      }
      record("bad input (strategies)", {
        casesTried: jsonCases.length + configCases.length,
        badInputsRejected: jsonCases.length + configCases.length - problems.length
      })
      assert.deepStrictEqual(problems, [])
    }))
})

// ---------------------------------------------------------------------------------------------------------------
// ids, events, versions: through the repository and the stores, on the SQL backends
// ---------------------------------------------------------------------------------------------------------------

const Db = Postgres.layerTest("reliability_bad_input", { maxConnections: 2 })
const Stores = Layer.merge(SqlEventStore.layer, SqlSnapshotStore.layer).pipe(Layer.provideMerge(Db))

/** Row counts of every table of the test's schema. */
const rowCounts = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const tables = yield* sql<{ name: string }>`
    SELECT table_name AS name FROM information_schema.tables
    WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`
  const counts: Record<string, number> = {}
  for (const { name } of tables) {
    const [row] = yield* sql.unsafe<{ n: number }>(`SELECT count(*)::int AS n FROM "${name.replaceAll("\"", "\"\"")}"`)
    counts[name] = row!.n
  }
  return counts
})

const deposit = (tx: string, amount: unknown = 5): Account.Event =>
  ({ _tag: "Deposited", amount, tx, index: 0, size: 1 }) as Account.Event

describe("bad input: ids, events and versions (SQL stores)", () => {
  layer(Stores, { timeout: "120 seconds" })((it) => {
    it.effect("each refused with a typed error naming the problem, and no row changed", () =>
      Effect.gen(function*() {
        const started = Date.now()
        const repo = yield* EventSourcedRepository.make(Account.Account, {
          strategy: SnapshotStrategy.everyNEvents(1)
        })
        const events = yield* EventStore.EventStore
        const snapshots = yield* SnapshotStore.SnapshotStore
        // A sound aggregate at version 3 with a snapshot, so that version errors hit an existing stream.
        yield* repo.save("acct-ok", 0, Account.batch("seed", 3, () => 0.3))
        assert.isTrue(Option.isSome(yield* snapshots.load("Account", "acct-ok")))

        // 10 KB that Postgres cannot compress below its index row limit (a repeated letter would fit).
        const rng = new Pcg.Pcg(10_240)
        const longId = Array.from({ length: 10 * 1024 }, () => String.fromCharCode(33 + rng.integer(90))).join("")
        const ids: ReadonlyArray<readonly [string, string, RegExp]> = [
          ["empty id", "", /aggregateId must not be empty/],
          ["10 KB id", longId, /aggregateId ".*"… \(10240 characters\) is longer than \d+ UTF-8 bytes/],
          ["id with NUL", "acct\u0000evil", /NUL/],
          ["id with a lone surrogate", "acct\ud800", /surrogate/]
        ]
        const snapshotOf = (aggregateId: string, version: number) =>
          new Snapshot.Snapshot({
            aggregateType: "Account",
            aggregateId,
            version,
            schemaVersion: 1,
            createdAt: DateTime.makeUnsafe(0),
            metadata: {},
            state: Account.initial(aggregateId)
          }, { disableChecks: true })

        const cases: Array<Case<EventStore.EventStore | SnapshotStore.SnapshotStore>> = []
        for (const [label, id, message] of ids) {
          cases.push(
            {
              name: `repo.save: ${label}`,
              run: repo.save(id, 0, [deposit(`bad-${label}`)]),
              tag: "EventStoreError",
              reason: "InvalidInput",
              message
            },
            {
              name: `repo.update: ${label}`,
              run: repo.update(id, () => Effect.succeed([deposit(`bad-u-${label}`)])),
              tag: "EventStoreError",
              reason: "InvalidInput",
              message
            },
            {
              name: `repo.load: ${label}`,
              run: repo.load(id),
              tag: "EventStoreError",
              reason: "InvalidInput",
              message
            },
            {
              name: `SnapshotStore.save: ${label}`,
              run: snapshots.save(snapshotOf(id, 1)),
              tag: "SnapshotStoreError",
              reason: "InvalidInput",
              message: label === "10 KB id" ? /aggregateId.*(long|bytes)/ : message
            }
          )
        }
        cases.push(
          {
            name: "event with a string amount",
            run: repo.save("acct-new", 0, [deposit("t1", "100")]),
            tag: "EventEncodeError",
            message: /amount[\s\S]*Expected (an integer|number)|Expected (an integer|number)[\s\S]*amount/
          },
          {
            name: "event with a fractional amount",
            run: repo.save("acct-new", 0, [deposit("t2", 1.5)]),
            tag: "EventEncodeError",
            // names the field, the rule and the value, in any order (Effect 4 puts the path last)
            message: /^(?=[\s\S]*amount)(?=[\s\S]*integer)(?=[\s\S]*1\.5)/
          },
          {
            name: "event of an unknown type",
            run: repo.save("acct-new", 0, [{ _tag: "Stolen", amount: 5 } as unknown as Account.Event]),
            tag: "EventEncodeError",
            message: /Stolen|_tag/
          },
          {
            name: "second event of a batch bad (nothing of the batch written)",
            run: repo.save("acct-ok", 3, [deposit("t3"), deposit("t3", Number.NaN)]),
            tag: "EventEncodeError",
            message: /amount|NaN/
          },
          {
            name: "event text with NUL",
            run: repo.save("acct-ok", 3, [{ _tag: "Noted", text: "a\u0000b", tx: "t4", index: 0, size: 1 }]),
            tag: "EventStoreError",
            reason: "InvalidInput",
            message: /NUL/
          },
          {
            name: "expected version negative",
            run: repo.save("acct-ok", -1, [deposit("t5")]),
            tag: "EventStoreError",
            reason: "InvalidInput",
            message: /expectedVersion.*-1/
          },
          {
            name: "expected version fractional",
            run: repo.save("acct-ok", 2.5, [deposit("t6")]),
            tag: "EventStoreError",
            reason: "InvalidInput",
            message: /expectedVersion.*2\.5/
          },
          {
            name: "empty batch",
            run: repo.save("acct-ok", 3, []),
            tag: "EventStoreError",
            reason: "InvalidInput",
            message: /empty|at least one event/i
          },
          {
            name: "EventStore.read from version -1",
            run: Stream.runDrain(events.read("Account", "acct-ok", { fromVersion: -1 })),
            tag: "EventStoreError",
            reason: "InvalidInput",
            message: /fromVersion.*-1/
          },
          {
            name: "snapshot at version 0",
            run: snapshots.save(snapshotOf("acct-ok", 0)),
            tag: "SnapshotStoreError",
            reason: "InvalidInput",
            message: /version.*0/
          },
          {
            name: "snapshot at version -3",
            run: snapshots.save(snapshotOf("acct-ok", -3)),
            tag: "SnapshotStoreError",
            reason: "InvalidInput",
            message: /version.*-3/
          },
          {
            name: "snapshot load with maxVersion -1",
            run: snapshots.load("Account", "acct-ok", { maxVersion: -1 }),
            tag: "SnapshotStoreError",
            reason: "InvalidInput",
            message: /maxVersion.*-1/
          },
          {
            name: "snapshot delete of version 0",
            run: snapshots.delete("Account", "acct-ok", { version: 0 }),
            tag: "SnapshotStoreError",
            reason: "InvalidInput",
            message: /version.*0/
          },
          {
            name: "snapshot whose state is not JSON",
            run: snapshots.save(
              new Snapshot.Snapshot({ ...snapshotOf("acct-ok", 2), state: { n: Number.NaN } }, {
                disableChecks: true
              })
            ),
            tag: "SnapshotStoreError",
            reason: "InvalidInput",
            message: /NaN|JSON/
          },
          {
            name: "prune keeping 0",
            run: snapshots.prune({ keepLast: 0 }),
            tag: "SnapshotStoreError",
            reason: "InvalidInput",
            message: /keepLast.*0/
          },
          {
            name: "repository with fallbackConcurrency 0",
            run: Effect.scoped(
              EventSourcedRepository.make(Account.Account, {
                strategy: SnapshotStrategy.always,
                fallbackConcurrency: 0
              })
            ),
            tag: "BadArgument",
            message: /^EventSourcedRepository\.make: fallbackConcurrency.*0/
          },
          {
            name: "repository with a custom strategy and no predicate",
            run: Effect.scoped(
              EventSourcedRepository.make(Account.Account, { strategy: SnapshotStrategy.custom("bigAccount") })
            ),
            tag: "UnknownCustomStrategy",
            message: /bigAccount/
          }
        )

        const problems: Array<string> = []
        let rowsChanged = 0
        for (const c of cases) {
          const before = yield* rowCounts
          const problem = yield* judge(c)
          if (problem !== undefined) problems.push(problem)
          const after = yield* rowCounts
          if (JSON.stringify(after) !== JSON.stringify(before)) {
            rowsChanged++
            problems.push(`${c.name}: row counts changed ${JSON.stringify(before)} -> ${JSON.stringify(after)}`)
          }
        }
        // The sound aggregate is untouched.
        const loaded = yield* repo.load("acct-ok")
        assert.strictEqual(loaded.version, 3)
        record("bad input (ids, events)", {
          casesTried: cases.length,
          badInputsRejected: cases.length - problems.length,
          rowsLost: rowsChanged
        }, Date.now() - started)
        assert.deepStrictEqual(problems, [])
        assert.isAtLeast(cases.length, 20)
      }))

    it.effect("ids holding quotes or SQL are data: each stream and snapshot is its own, no table touched", () =>
      Effect.gen(function*() {
        const repo = yield* EventSourcedRepository.make(Account.Account, {
          strategy: SnapshotStrategy.everyNEvents(2)
        })
        const snapshots = yield* SnapshotStore.SnapshotStore
        const ids = [
          "o'brien",
          "\"double\" and 'single'",
          "'; DROP TABLE effect_snapshots_events; --",
          "' OR '1'='1",
          "acct%",
          "$1",
          "back\\slash",
          "Ωμέγα-日本語-🦀"
        ]
        const tablesBefore = Object.keys(yield* rowCounts)
        for (const [i, id] of ids.entries()) {
          yield* repo.save(id, 0, Account.batch(`q${i}`, i + 1, () => 0.5))
        }
        for (const [i, id] of ids.entries()) {
          const loaded = yield* repo.load(id)
          assert.strictEqual(loaded.version, i + 1, id)
          assert.strictEqual(loaded.state.lastTx, `q${i}`, id)
          const snapshot = yield* snapshots.load("Account", id)
          if (i + 1 >= 2) assert.strictEqual(Option.getOrThrow(snapshot).aggregateId, id)
          else assert.isTrue(Option.isNone(snapshot))
        }
        assert.deepStrictEqual(Object.keys(yield* rowCounts), tablesBefore)
        record("bad input (ids, events)", { casesTried: ids.length })
      }))
  })
})
