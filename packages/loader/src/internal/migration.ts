/**
 * Restoring a snapshot's state: its fingerprint checked, its encoded state migrated from an older schema version
 * (typed chains and the deprecated JSON-in, JSON-out functions), decoded with the state Schema.
 *
 * @internal
 */
import * as Result from "effect/Result"
import type * as Schema from "effect/Schema"
import type * as SchemaIssue from "effect/SchemaIssue"
import type { RestoredState, Skipped } from "../Aggregate.js"
import type * as Migration from "../Migration.js"
import * as Json from "./json.js"

/** The snapshot metadata key of the state Schema's fingerprint. @internal */
export const fingerprintKey = "fingerprint" as const

/** What a migration answers: the encoded state at the aggregate's schema version, or why not. @internal */
export type Migrate = (fromVersion: number, encoded: unknown) => Result.Result<unknown, Skipped>

/** The migrations of a definition, compiled once by `Aggregate.make`. @internal */
export interface Compiled {
  /** The public `Aggregate.migrations`: one JSON-in, JSON-out function per old version. */
  readonly functions: Readonly<Record<number, Migration.Encoded>>
  readonly migrate: Migrate
  /** The version a typed chain ends at (undefined for the record form). */
  readonly toVersion: number | undefined
}

const failed = (message: string): Skipped => ({ reason: "MigrationFailed", message })

const noPath = (version: number, target: number): Skipped => ({
  reason: "NoMigration",
  message: `no migration from schema version ${version} (to reach ${target})`
})

const compileChain = (chain: Migration.Chain<unknown>): Compiled => {
  const decoders = chain.schemas.map((schema) => Json.jsonDecoder(Json.jsonCodec(schema)))
  const encoders = chain.schemas.map((schema: Schema.Codec<unknown, unknown>) => Json.jsonEncoder(schema))
  const issue = (what: string, version: number, problem: SchemaIssue.Issue) =>
    `${what} the state Schema of schema version ${version}: ${Json.formatIssue(problem)}`
  /** From `from` (a version of the chain) up to `until` (excluded), as typed states. */
  const run = (from: number, until: number, encoded: unknown): Result.Result<unknown, Skipped> => {
    const start = from - chain.fromVersion
    const decoded = decoders[start]!(encoded)
    if (Result.isFailure(decoded)) {
      return Result.fail(failed(issue("the snapshot does not decode with", from, decoded.failure)))
    }
    let state = decoded.success
    let version = from
    try {
      for (; version < until; version++) state = chain.steps[version - chain.fromVersion]!(state)
    } catch (cause) {
      return Result.fail(failed(`migration from schema version ${version} failed: ${String(cause)}`))
    }
    const encodedState = encoders[until - chain.fromVersion]!(state)
    return Result.isFailure(encodedState)
      ? Result.fail(failed(issue("the migrated state does not encode with", until, encodedState.failure)))
      : Result.succeed(encodedState.success)
  }
  const functions: Record<number, Migration.Encoded> = {}
  for (let version = chain.fromVersion; version < chain.toVersion; version++) {
    const from = version
    functions[from] = (encoded) => {
      const result = run(from, from + 1, encoded)
      if (Result.isFailure(result)) throw new Error(result.failure.message)
      return result.success
    }
  }
  return {
    functions,
    migrate: (fromVersion, encoded) =>
      fromVersion < chain.fromVersion || fromVersion >= chain.toVersion
        ? Result.fail(noPath(fromVersion, chain.toVersion))
        : run(fromVersion, chain.toVersion, encoded),
    toVersion: chain.toVersion
  }
}

const compileFunctions = (
  functions: Readonly<Record<number, Migration.Encoded>>,
  schemaVersion: number
): Compiled => ({
  functions,
  migrate: (fromVersion, encoded) => {
    let current = encoded
    for (let version = fromVersion; version < schemaVersion; version++) {
      const migration = functions[version]
      if (migration === undefined) return Result.fail(noPath(version, schemaVersion))
      try {
        current = migration(current)
      } catch (cause) {
        return Result.fail(failed(`migration from schema version ${version} failed: ${String(cause)}`))
      }
    }
    return Result.succeed(current)
  },
  toVersion: undefined
})

/** A typed chain, the deprecated record of functions, or none. @internal */
export const compile = (
  migrations: Migration.Chain<unknown> | Readonly<Record<number, Migration.Encoded>> | undefined,
  schemaVersion: number,
  isChain: (u: unknown) => u is Migration.Chain<unknown>
): Compiled => isChain(migrations) ? compileChain(migrations) : compileFunctions(migrations ?? {}, schemaVersion)

/** What `restoreState` needs of an aggregate. @internal */
export interface Restorable<S> {
  readonly schemaVersion: number
  readonly fingerprint: string
  readonly compatibleFingerprints: ReadonlyArray<string>
  readonly codec: {
    readonly decodeState: (encoded: unknown) => Result.Result<S, SchemaIssue.Issue>
    readonly migrate: Migrate
  }
}

/** `Aggregate.restoreState`. @internal */
export const restoreState = <S>(
  aggregate: Restorable<S>,
  snapshot: {
    readonly schemaVersion: number
    readonly state: unknown
    readonly metadata: Readonly<Record<string, unknown>>
  }
): Result.Result<RestoredState<S>, Skipped> => {
  let encoded = snapshot.state
  let migrated = false
  if (snapshot.schemaVersion === aggregate.schemaVersion) {
    const recorded = snapshot.metadata[fingerprintKey]
    if (
      recorded !== undefined && recorded !== aggregate.fingerprint &&
      !aggregate.compatibleFingerprints.includes(recorded as string)
    ) {
      return Result.fail({
        reason: "StaleFingerprint",
        message: `state Schema fingerprint ${String(recorded)} differs from the running ${aggregate.fingerprint}`
      })
    }
  } else if (snapshot.schemaVersion > aggregate.schemaVersion) {
    return Result.fail({
      reason: "NoMigration",
      message: `schema version ${snapshot.schemaVersion} is newer than the running ${aggregate.schemaVersion}`
    })
  } else {
    const result = aggregate.codec.migrate(snapshot.schemaVersion, encoded)
    if (Result.isFailure(result)) return Result.fail(result.failure)
    encoded = result.success
    migrated = true
  }
  const decoded = aggregate.codec.decodeState(encoded)
  return Result.isFailure(decoded)
    ? Result.fail({ reason: "DecodeFailure", message: Json.formatIssue(decoded.failure) })
    : Result.succeed({ state: decoded.success, migrated })
}
