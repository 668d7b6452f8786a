/**
 * A snapshot store that hangs (a call that never answers) must cost a `resilient` timeout, never a stuck
 * repository: not in inline saves, not in the background writer, not in `flush`, not when the scope closes.
 */
import { SnapshotStrategy } from "@effect-snapshots/core"
import { EventSourcedRepository, EventStore } from "@effect-snapshots/loader"
import { SnapshotStore } from "@effect-snapshots/store"
import { assert, describe, it } from "@effect/vitest"
import * as BigDecimal from "effect/BigDecimal"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Scope from "effect/Scope"
import { Deposited, Ledger } from "./utils/Ledger.js"

/** The memory store whose first `hangs` saves (`save` or `saveIfDue`) never answer. */
const hangingSaves = (hangs: number) =>
  Layer.effect(
    SnapshotStore.SnapshotStore,
    Effect.map(SnapshotStore.SnapshotStore, (inner) => {
      let left = hangs
      return {
        ...inner,
        save: (snapshot) => Effect.suspend(() => left-- > 0 ? Effect.never : inner.save(snapshot)),
        saveIfDue: (snapshot, options) =>
          Effect.suspend(() => left-- > 0 ? Effect.never : inner.saveIfDue(snapshot, options))
      }
    })
  ).pipe(Layer.provide(SnapshotStore.layerMemory), SnapshotStore.resilient({ timeout: "50 millis" }))

const deposit = Deposited.make({ amount: BigDecimal.fromBigInt(1n), note: "n" })

describe("a hanging snapshot store under resilient()", () => {
  for (const mode of ["inline", "background"] as const) {
    it.live(`${mode}: save, flush and closing the scope end (the hung calls time out)`, () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const repo = yield* EventSourcedRepository.make(Ledger, { strategy: SnapshotStrategy.always, mode }).pipe(
          Scope.provide(scope)
        )
        // the first save hangs: resilient's timeout bounds the call, retries included; then the store answers
        const flush = repo.flush.pipe(
          Effect.timeoutOrElse({ duration: "5 seconds", orElse: () => Effect.fail("flush hung") })
        )
        const first = yield* repo.save("a", 0, [deposit])
        yield* flush
        yield* repo.save("a", 1, [deposit])
        yield* flush
        const store = yield* SnapshotStore.SnapshotStore
        yield* Scope.close(scope, Exit.void).pipe(
          Effect.timeoutOrElse({ duration: "5 seconds", orElse: () => Effect.fail("scope close hung") })
        )
        // inline: resilient's deadline passed and it passed the error on: the repository says so
        assert.strictEqual(first.snapshot, mode === "inline" ? "failed" : "queued")
        // the second request found a store that answers again
        assert.strictEqual(Option.getOrThrow(yield* store.load("Ledger", "a")).version, 2)
      }).pipe(
        Effect.provide(Layer.merge(EventStore.layerMemory, hangingSaves(1))),
        // the timed-out writes are logged as warnings, on purpose
        Effect.provideService(References.MinimumLogLevel, "Error")
      ))
  }
})
