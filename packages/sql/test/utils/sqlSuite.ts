/**
 * SQL-specific tests of SqlSnapshotStore, shared by the real-Postgres and the PGlite test files. The
 * contract itself is in ./contract.ts.
 */
import { BadArgument } from "@effect-snapshots/core"
import type { Postgres } from "@effect-snapshots/postgres"
import { SqlSnapshotStore } from "@effect-snapshots/sql"
import { Snapshot, SnapshotStore, SnapshotStoreBackend } from "@effect-snapshots/store"
import type { Vitest } from "@effect/vitest"
import { assert } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import { SqlClient } from "effect/sql/SqlClient"
import * as TestClock from "effect/testing/TestClock"
import * as Tracer from "effect/Tracer"
import { contract, freshType, make, saveIfDueContract, stateOfSize } from "../../../store/test/utils/contract.js"

type Env = SqlClient | Postgres.Backend
type StoreBuildError = SnapshotStore.SnapshotStoreError | BadArgument.BadArgument

/**
 * The TestClock for the SQL test files. A SQL test runs for seconds (PGlite, a loaded machine) while timers wait
 * on it (the pool's idle timeout, `resilient`'s timeouts): expected there, so it does not warn after one second,
 * as the default TestClock does, that a test uses time without advancing it.
 */
export const PatientClock = TestClock.layer({ warningDelay: "10 minutes" })

export interface SqlSuiteOptions {
  readonly large: boolean
  readonly manyKeys: number
  /** Also run the contract on the compressed + resilient stack over SQL. */
  readonly stack: boolean
}

/** The store on a table of its own, as an effect needing only SqlClient. */
const storeOn = (
  table: string,
  decorate: (
    layer: Layer.Layer<SnapshotStore.SnapshotStore, StoreBuildError, SqlClient>
  ) => Layer.Layer<SnapshotStore.SnapshotStore, StoreBuildError, SqlClient> = (l) => l
) =>
<A, E>(f: (store: SnapshotStore.SnapshotStoreService) => Effect.Effect<A, E, SqlClient>) =>
  Effect.flatMap(SnapshotStore.SnapshotStore, f).pipe(
    Effect.provide(decorate(SqlSnapshotStore.layerWith({ table }))),
    // The options here are right: a BadArgument would be a bug of the test.
    Effect.catchIf((error): error is BadArgument.BadArgument => error instanceof BadArgument.BadArgument, Effect.die)
  )

/** The messages of an error and its causes. */
const messagesOf = (error: unknown): string => {
  const messages: Array<string> = []
  let current: unknown = error
  while (typeof current === "object" && current !== null && messages.length < 5) {
    if ("message" in current) messages.push(String(current.message))
    current = "cause" in current ? current.cause : undefined
  }
  return messages.join(": ")
}

const planText = (rows: ReadonlyArray<Record<string, unknown>>) =>
  rows.map((row) => String(Object.values(row)[0])).join("\n")

export const sqlSuite = (it: Vitest.MethodsNonLive<Env>, options: SqlSuiteOptions) => {
  // The contract checks that each snapshot's own createdAt is kept: `clock: "application"`. The default
  // (the database's clock) runs the part that does not look at createdAt.
  it.layer(SqlSnapshotStore.layerWith({ pageSize: 50, clock: "application" }))(
    "contract: SqlSnapshotStore.layer",
    (it) => contract(it, { large: options.large, manyKeys: options.manyKeys })
  )

  it.layer(SqlSnapshotStore.layerWith({ table: "default_clock_snapshots" }))(
    "contract (saveIfDue): SqlSnapshotStore.layer with the database's clock",
    (it) => saveIfDueContract(it)
  )

  if (options.stack) {
    it.layer(
      SqlSnapshotStore.layerWith({ table: "stack_snapshots", pageSize: 50, clock: "application" }).pipe(
        SnapshotStore.compressed({ thresholdBytes: 512 }),
        SnapshotStore.resilient({ timeout: "30 seconds" })
      )
    )(
      "contract: SqlSnapshotStore.layer + compressed + resilient",
      (it) => contract(it, { large: options.large, manyKeys: options.manyKeys })
    )
  }

  it.effect("creates its table and index through its own migrations table; rebuilding is a no-op", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const use = storeOn("mig_probe")
      yield* use(() => Effect.void)
      yield* use((store) => store.save(make({ aggregateType: "T", aggregateId: "a", version: 1 })))
      yield* use(() => Effect.void)
      const migrations = yield* sql<{ migration_id: number; name: string }>`
        SELECT migration_id, name FROM mig_probe_migrations ORDER BY migration_id`
      assert.deepStrictEqual(migrations.map((m) => [m.migration_id, m.name]), [
        [1, "create_snapshots"],
        [2, "save_if_due"],
        [3, "state_text"]
      ])
      // Never @effect/sql's default table, which an application's own Migrator uses.
      const [{ regclass }] = yield* sql<{ regclass: string | null }>`
        SELECT to_regclass('effect_sql_migrations')::text AS regclass`
      assert.isNull(regclass)
      const columns = yield* sql<{ column_name: string; data_type: string }>`
        SELECT column_name, data_type FROM information_schema.columns
        WHERE table_name = 'mig_probe' AND table_schema = current_schema() ORDER BY ordinal_position`
      assert.deepStrictEqual(
        Object.fromEntries(columns.map((c) => [c.column_name, c.data_type])),
        {
          aggregate_type: "text",
          aggregate_id: "text",
          version: "bigint",
          schema_version: "bigint",
          encoding: "text",
          state: "jsonb",
          state_bytes: "bytea",
          created_at: "timestamp with time zone",
          metadata: "jsonb",
          state_text: "text"
        }
      )
      const key = yield* sql<{ attname: string }>`
        SELECT a.attname FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
        WHERE i.indrelid = 'mig_probe'::regclass AND i.indisprimary
        ORDER BY array_position(i.indkey::int2[], a.attnum)`
      assert.deepStrictEqual(key.map((k) => k.attname), ["aggregate_type", "aggregate_id", "version"])
    }))

  it.effect("load is one backward probe of the primary key; latestForType one probe of its index", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      yield* storeOn("plan_probe")((store) =>
        Effect.forEach(
          Array.from({ length: 400 }, (_, i) => i),
          (i) => store.save(make({ aggregateType: `T${i % 4}`, aggregateId: `a${i % 40}`, version: i + 1 })),
          { discard: true }
        )
      )
      yield* sql`ANALYZE plan_probe`
      const load = planText(
        yield* sql.unsafe<Record<string, unknown>>(`EXPLAIN SELECT aggregate_type, aggregate_id, version, state::text
          FROM plan_probe WHERE aggregate_type = 'T1' AND aggregate_id = 'a1' AND version <= 200
          ORDER BY version DESC LIMIT 1`)
      )
      assert.match(load, /Limit/)
      assert.match(load, /Index Scan Backward using plan_probe_pkey/, load)
      assert.notMatch(load, /Sort|Seq Scan/)
      const latest = planText(
        yield* sql.unsafe<Record<string, unknown>>(`EXPLAIN SELECT aggregate_id FROM plan_probe
          WHERE aggregate_type = 'T1' ORDER BY created_at DESC, version DESC, aggregate_id DESC LIMIT 1`)
      )
      assert.match(latest, /Index (Only )?Scan using plan_probe_type_created_idx/, latest)
      assert.notMatch(latest, /Sort|Seq Scan/)
    }))

  it.effect("by default created_at is the database's time, not a fast instance's; clock: \"application\" keeps it", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const DAY = 86_400_000
      // A snapshot stamped by an instance whose clock runs a day ahead (of the wall clock, as the database's).
      const fast = make({ aggregateType: "Clock", aggregateId: "fast", version: 1, createdAt: Date.now() + DAY })
      const due = make({ aggregateType: "Clock", aggregateId: "due", version: 1, createdAt: Date.now() + DAY })
      const stored = yield* Effect.flatMap(
        SnapshotStore.SnapshotStore,
        (store) =>
          Effect.andThen(
            Effect.andThen(store.save(fast), store.saveIfDue(due, { dueFrom: 1 })),
            Effect.all([
              store.load("Clock", "fast"),
              store.list("Clock", "fast"),
              store.load("Clock", "due"),
              store.now ?? Effect.die("no database clock")
            ])
          )
      ).pipe(
        Effect.provide(SqlSnapshotStore.layerWith({ table: "clock_probe" })),
        Effect.orDie
      )
      const [{ ms }] = yield* sql<{ ms: number }>`SELECT (extract(epoch FROM now()) * 1000)::float8 AS ms`
      const [loaded, history, loadedDue, databaseNow] = stored
      for (
        const at of [
          Option.getOrThrow(loaded).createdAt,
          history[0]!.createdAt,
          Option.getOrThrow(loadedDue).createdAt,
          databaseNow
        ]
      ) {
        const skew = Math.abs(DateTime.toEpochMillis(at) - ms)
        assert.isAtMost(skew, 60_000, `stored ${DateTime.formatIso(at)}, database now ${new Date(ms).toISOString()}`)
      }
      // clock: "application" keeps the snapshot's own time (imports, tests that set it), and has no clock.
      const kept = make({ aggregateType: "Clock", aggregateId: "kept", version: 1, createdAt: Date.now() + DAY })
      const [keptBack, now] = yield* Effect.flatMap(
        SnapshotStore.SnapshotStore,
        (store) =>
          Effect.andThen(store.save(kept), Effect.all([store.load("Clock", "kept"), Effect.succeed(store.now)]))
      ).pipe(
        Effect.provide(SqlSnapshotStore.layerWith({ table: "clock_probe", clock: "application" })),
        Effect.orDie
      )
      assert.strictEqual(
        DateTime.toEpochMillis(Option.getOrThrow(keptBack).createdAt),
        DateTime.toEpochMillis(kept.createdAt)
      )
      assert.isUndefined(now)
    }))

  it.effect("a plain state is stored as its JSON text; a row in the old jsonb column loads beside it", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const use = storeOn("text_probe")
      yield* use(() => Effect.void)
      // A row as the store wrote it before migration 0003: the state in the jsonb column.
      yield* sql`INSERT INTO text_probe
  (aggregate_type, aggregate_id, version, schema_version, encoding, state, created_at, metadata)
VALUES ('Order', 'a', 1, 1, 'json', ${JSON.stringify({ old: true, n: 1.5 })}::jsonb, now(), '{}'::jsonb)`
      const newer = make({ aggregateType: "Order", aggregateId: "a", version: 2, state: { old: false, text: "é🦀" } })
      yield* use((store) => store.save(newer))
      const rows = yield* sql<{ version: number; has_jsonb: boolean; state_text: string | null }>`
        SELECT version::int AS version, state IS NOT NULL AS has_jsonb, state_text FROM text_probe ORDER BY version`
      assert.deepStrictEqual(rows.map((r) => [r.version, r.has_jsonb, r.state_text]), [
        [1, true, null],
        [2, false, JSON.stringify(newer.state)]
      ])
      yield* use((store) =>
        Effect.gen(function*() {
          assert.deepStrictEqual(Option.getOrThrow(yield* store.load("Order", "a")).state, newer.state)
          const old = Option.getOrThrow(yield* store.load("Order", "a", { maxVersion: 1 }))
          assert.deepStrictEqual(old.state, { old: true, n: 1.5 })
          assert.deepStrictEqual((yield* store.list("Order", "a")).map((info) => info.version), [1, 2])
        })
      )
      // The row check: a plain row has its state in exactly one of the two columns; the text is JSON.
      const both = yield* Effect.flip(sql`INSERT INTO text_probe
  (aggregate_type, aggregate_id, version, schema_version, encoding, state, state_text, created_at)
VALUES ('Order', 'b', 1, 1, 'json', '{}'::jsonb, '{}', now())`)
      assert.include(messagesOf(both), "text_probe_state_check")
      const notJson = yield* Effect.flip(sql`INSERT INTO text_probe
  (aggregate_type, aggregate_id, version, schema_version, encoding, state_text, created_at)
VALUES ('Order', 'b', 1, 1, 'json', '{"a":', now())`)
      assert.include(messagesOf(notJson), "invalid input syntax for type json")
      // What jsonb refused, the text column refuses too: a lone surrogate is a typed InvalidInput, nothing stored.
      const surrogate = make({ aggregateType: "Order", aggregateId: "c", version: 1, state: { s: "😀".slice(0, 1) } })
      const refused = yield* Effect.flip(use((store) => store.save(surrogate)))
      assert.strictEqual(refused.reason, "InvalidInput")
      assert.isTrue(Option.isNone(yield* use((store) => store.load("Order", "c"))))
    }))

  it.effect("compressed states are stored as bytea with their algorithm; small ones stay jsonb", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const big = make({ aggregateType: "Bytes", aggregateId: "big", version: 1, state: stateOfSize(200_000) })
      const small = make({ aggregateType: "Bytes", aggregateId: "small", version: 1, state: { tiny: true } })
      const brotli = make({ aggregateType: "Bytes", aggregateId: "brotli", version: 1, state: stateOfSize(50_000) })
      yield* storeOn("bytes_probe", SnapshotStore.compressed({ thresholdBytes: 1024 }))((store) =>
        Effect.andThen(store.save(big), store.save(small))
      )
      yield* storeOn("bytes_probe", SnapshotStore.compressed({ thresholdBytes: 1024, algorithm: "brotli" }))((store) =>
        store.save(brotli)
      )
      const rows = yield* sql<
        { aggregate_id: string; encoding: string; has_json: boolean; bytes: number | null }
      >`SELECT aggregate_id, encoding, state_text IS NOT NULL AS has_json, octet_length(state_bytes) AS bytes
        FROM bytes_probe ORDER BY aggregate_id`
      assert.deepStrictEqual(rows.map((r) => [r.aggregate_id, r.encoding, r.has_json]), [
        ["big", "gzip", false],
        ["brotli", "brotli", false],
        ["small", "json", true]
      ])
      assert.isBelow(rows[0]!.bytes!, 200_000 / 3)
      // Through the decorator: the original states (whichever algorithm wrote them).
      yield* storeOn("bytes_probe", SnapshotStore.compressed({ thresholdBytes: 1024 }))((store) =>
        Effect.gen(function*() {
          assert.deepStrictEqual(Option.getOrThrow(yield* store.load("Bytes", "big")).state, big.state)
          assert.deepStrictEqual(Option.getOrThrow(yield* store.load("Bytes", "brotli")).state, brotli.state)
          assert.deepStrictEqual(Option.getOrThrow(yield* store.load("Bytes", "small")).state, { tiny: true })
        })
      )
      // Without it: the CompressedState as stored.
      const raw = yield* storeOn("bytes_probe")((store) => store.load("Bytes", "big"))
      const state = Option.getOrThrow(raw).state
      assert.instanceOf(state, Snapshot.CompressedState)
      assert.strictEqual((state as Snapshot.CompressedState).algorithm, "gzip")
      assert.strictEqual((state as Snapshot.CompressedState).bytes.byteLength, rows[0]!.bytes)
    }))

  it.effect("a corrupted compressed payload is Corrupt, also through resilient (passed on and counted)", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const compressed = SnapshotStore.compressed({ thresholdBytes: 16 })
      const type = freshType("Corrupted")
      yield* storeOn("corrupt_probe", compressed)((store) =>
        Effect.andThen(
          store.save(make({ aggregateType: type, aggregateId: "garbage", version: 1, state: stateOfSize(1000) })),
          store.save(make({ aggregateType: type, aggregateId: "truncated", version: 1, state: stateOfSize(1000) }))
        )
      )
      yield* sql`UPDATE corrupt_probe SET state_bytes = '\\xdeadbeef'::bytea WHERE aggregate_id = 'garbage'`
      yield* sql`UPDATE corrupt_probe SET state_bytes = substring(state_bytes from 1 for 20)
        WHERE aggregate_id = 'truncated'`
      for (const id of ["garbage", "truncated"]) {
        const error = yield* Effect.flip(storeOn("corrupt_probe", compressed)((store) => store.load(type, id)))
        assert.strictEqual(error.reason, "Corrupt", id)
      }
      const counter = Metric.withAttributes(SnapshotStore.resilientFailures, { operation: "load", reason: "Corrupt" })
      const before = (yield* Metric.value(counter)).count
      const error = yield* storeOn(
        "corrupt_probe",
        (l) => l.pipe(compressed, SnapshotStore.resilient({ timeout: "30 seconds" }))
      )((store) => Effect.flip(store.load(type, "garbage")))
      assert.strictEqual(error.reason, "Corrupt")
      assert.strictEqual((yield* Metric.value(counter)).count, before + 1)
    }))

  it.effect("on SnapshotStoreBackend: a span per call naming backend sql, failures counted by reason", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const type = freshType("Observed")
      const spans: Array<Tracer.Span> = []
      yield* storeOn("observed_probe")((store) =>
        Effect.flatMap(Effect.tracer, (inner) =>
          Effect.withTracer(
            Effect.andThen(
              store.save(make({ aggregateType: type, aggregateId: "a", version: 1 })),
              store.load(type, "a")
            ),
            Tracer.make({
              span: (spanOptions) => {
                const span = inner.span(spanOptions)
                if (span.name.startsWith("SnapshotStore.")) spans.push(span)
                return span
              },
              context: inner.context
            })
          ))
      )
      assert.deepStrictEqual(spans.map((span) => span.name), ["SnapshotStore.save", "SnapshotStore.load"])
      assert.strictEqual(spans[1]!.attributes.get("backend"), "sql")
      assert.strictEqual(spans[1]!.attributes.get("aggregate_type"), type)
      // A row that does not decode is Corrupt, counted under backend sql.
      yield* sql`UPDATE observed_probe SET metadata = '[1]'::jsonb WHERE aggregate_type = ${type}`
      const counter = Metric.withAttributes(SnapshotStoreBackend.failures, {
        backend: "sql",
        operation: "load",
        reason: "Corrupt"
      })
      const before = (yield* Metric.value(counter)).count
      const error = yield* storeOn("observed_probe")((store) => Effect.flip(store.load(type, "a")))
      assert.strictEqual(error.reason, "Corrupt")
      assert.strictEqual((yield* Metric.value(counter)).count, before + 1)
    }))

  it.effect("errors are mapped at the boundary: class 22 InvalidInput, class 23 Conflict, others Unavailable", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      // A data exception raised by the server (here by a trigger; the input checks leave none to Postgres).
      yield* storeOn("map_probe")(() => Effect.void)
      yield* sql.unsafe(`CREATE FUNCTION map_probe_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF NEW.aggregate_id = 'data' THEN RAISE EXCEPTION 'bad datum' USING ERRCODE = '22023'; END IF;
RETURN NEW; END $$`)
      yield* sql.unsafe(`CREATE TRIGGER map_probe_refuse BEFORE INSERT ON map_probe
FOR EACH ROW EXECUTE FUNCTION map_probe_refuse()`)
      const invalid = yield* Effect.flip(
        storeOn("map_probe")((store) => store.save(make({ aggregateType: "T", aggregateId: "data", version: 1 })))
      )
      assert.strictEqual(invalid.reason, "InvalidInput")
      assert.match(invalid.message, /SQLSTATE 22023/)
      yield* sql`ALTER TABLE map_probe ADD CONSTRAINT small_versions CHECK (version < 1000)`
      const conflict = yield* Effect.flip(
        storeOn("map_probe")((store) => store.save(make({ aggregateType: "T", aggregateId: "a", version: 1000 })))
      )
      assert.strictEqual(conflict.reason, "Conflict")
      assert.match(conflict.message, /SQLSTATE 23514/)
      // A row that does not decode is Corrupt.
      yield* storeOn("map_probe")((store) => store.save(make({ aggregateType: "T", aggregateId: "m", version: 1 })))
      yield* sql`UPDATE map_probe SET metadata = '[1, 2]'::jsonb WHERE aggregate_id = 'm'`
      const corrupt = yield* Effect.flip(storeOn("map_probe")((store) => store.load("T", "m")))
      assert.strictEqual(corrupt.reason, "Corrupt")
      // The table is gone: Unavailable (42P01), for every method.
      const unavailable = yield* storeOn("map_probe")((store) =>
        Effect.gen(function*() {
          yield* sql`DROP TABLE map_probe`
          return yield* Effect.all([
            Effect.flip(store.load("T", "a")),
            Effect.flip(store.save(make({ aggregateType: "T", aggregateId: "a", version: 2 }))),
            Effect.flip(store.list("T", "a")),
            Effect.flip(store.prune({ keepLast: 1 }))
          ])
        })
      )
      for (const error of unavailable) {
        assert.strictEqual(error.reason, "Unavailable")
        assert.match(error.message, /SQLSTATE 42P01/)
      }
    }))

  it.effect("rejects a table name that is not an identifier", () =>
    Effect.gen(function*() {
      const bad: ReadonlyArray<SqlSnapshotStore.Options> = [
        { table: "snapshots; DROP TABLE x" },
        { pageSize: 0 },
        { clock: "wall" as "database" } // a JavaScript caller's typo
      ]
      for (const options of bad) {
        const error = yield* Effect.flip(Layer.build(SqlSnapshotStore.layerWith(options)).pipe(Effect.scoped))
        assert.strictEqual(error._tag, "BadArgument")
        assert.match(error.message, /^SqlSnapshotStore\.layerWith: (table|pageSize|clock)/)
      }
    }))

  it.effect("inside the caller's transaction, a refused snapshot write neither aborts nor poisons it", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const type = freshType("Guard")
      yield* sql`CREATE TABLE guard_app (id text PRIMARY KEY)`
      yield* storeOn("guard_probe")((store) =>
        Effect.gen(function*() {
          yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 1 }))
          yield* store.save(make({ aggregateType: type, aggregateId: "a", version: 2 }))
          // Any snapshot-side failure: here a trigger that refuses every write to the snapshot table.
          yield* sql.unsafe(`CREATE FUNCTION guard_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'snapshots are read-only today'; END $$`)
          yield* sql.unsafe(`CREATE TRIGGER guard_refuse BEFORE INSERT OR UPDATE OR DELETE ON guard_probe
FOR EACH STATEMENT EXECUTE FUNCTION guard_refuse()`)
          const failures = yield* sql.withTransaction(Effect.gen(function*() {
            yield* sql`INSERT INTO guard_app (id) VALUES ('before')`
            const errors = [
              yield* Effect.flip(store.save(make({ aggregateType: type, aggregateId: "a", version: 3 }))),
              yield* Effect.flip(store.delete(type, "a", { version: 1 })),
              yield* Effect.flip(store.prune({ keepLast: 1, aggregateType: type }))
            ]
            // The application's next statement in the same transaction still runs ...
            yield* sql`INSERT INTO guard_app (id) VALUES ('after')`
            // ... and so do the store's reads.
            assert.strictEqual(Option.getOrThrow(yield* store.load(type, "a")).version, 2)
            return errors
          }))
          for (const error of failures) {
            assert.strictEqual(error.reason, "Unavailable")
            assert.match(error.message, /read-only today/)
          }
          // ... and the commit kept the application's writes.
          const rows = yield* sql<{ id: string }>`SELECT id FROM guard_app ORDER BY id`
          assert.deepStrictEqual(rows.map((r) => r.id), ["after", "before"])
          assert.deepStrictEqual((yield* store.list(type, "a")).map((info) => info.version), [1, 2])
        })
      )
    }))

  it.effect("joins the caller's transaction: a rolled-back save leaves nothing", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const type = freshType("Tx")
      yield* storeOn("tx_probe")((store) =>
        Effect.gen(function*() {
          const rolledBack = yield* Effect.result(sql.withTransaction(Effect.andThen(
            store.save(make({ aggregateType: type, aggregateId: "a", version: 1 })),
            Effect.fail("abort" as const)
          )))
          assert.isTrue(rolledBack._tag === "Failure")
          assert.isTrue(Option.isNone(yield* store.load(type, "a")))
          yield* sql.withTransaction(store.save(make({ aggregateType: type, aggregateId: "a", version: 2 })))
          assert.strictEqual(Option.getOrThrow(yield* store.load(type, "a")).version, 2)
        })
      )
    }))
}
