/**
 * The `compressed` decorator: states whose JSON is larger than a threshold are stored as `CompressedState`
 * (gzip or brotli from node:zlib), and inflated again on load.
 *
 * @internal
 */
import { BadArgument } from "@effect-snapshots/core/BadArgument"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as zlib from "node:zlib"
import type { Snapshot } from "../Snapshot.js"
import { CompressedState } from "../Snapshot.js"
import type { CompressOptions, SnapshotStoreService } from "../SnapshotStore.js"
import { SnapshotStoreError } from "../SnapshotStoreError.js"
import * as errors from "../SnapshotStoreError.js"
import { withState } from "./snapshot.js"
import * as storable from "./storable.js"
import * as validate from "./validate.js"

type Algorithm = CompressedState["algorithm"]

const deflate = (algorithm: Algorithm, level: number | undefined, input: Buffer) =>
  Effect.callback<Buffer, SnapshotStoreError>((resume) => {
    const done = (error: Error | null, output: Buffer) =>
      resume(
        error === null ? Effect.succeed(output) : Effect.fail(
          new SnapshotStoreError({ reason: "InvalidInput", message: `${algorithm} compression failed`, cause: error })
        )
      )
    // On libuv's thread pool: a 20 MB state does not block the event loop.
    if (algorithm === "gzip") {
      zlib.gzip(input, level === undefined ? { level: 1 } : { level }, done)
    } else {
      zlib.brotliCompress(input, {
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: level ?? 4,
          [zlib.constants.BROTLI_PARAM_SIZE_HINT]: input.byteLength
        }
      }, done)
    }
  })

const inflate = (state: CompressedState) =>
  Effect.callback<Buffer, SnapshotStoreError>((resume) => {
    const done = (error: Error | null, output: Buffer) =>
      resume(
        error === null
          ? Effect.succeed(output)
          : Effect.fail(errors.corrupt(`a ${state.algorithm}-compressed state could not be decompressed`, error))
      )
    const input = Buffer.from(state.bytes.buffer, state.bytes.byteOffset, state.bytes.byteLength)
    if (state.algorithm === "gzip") zlib.gunzip(input, done)
    else if (state.algorithm === "brotli") zlib.brotliDecompress(input, done)
    else done(new Error(`unknown algorithm ${String(state.algorithm)}`), Buffer.alloc(0))
  })

const expand = (snapshot: Snapshot): Effect.Effect<Snapshot, SnapshotStoreError> => {
  const state: unknown = snapshot.state
  if (!(state instanceof CompressedState)) return Effect.succeed(snapshot)
  return Effect.flatMap(inflate(state), (bytes) => {
    try {
      return Effect.succeed(withState(snapshot, JSON.parse(bytes.toString("utf8"))))
    } catch (cause) {
      return Effect.fail(errors.corrupt(`a ${state.algorithm}-compressed state is not valid JSON`, cause))
    }
  })
}

const expandOption = (snapshot: Option.Option<Snapshot>) =>
  Option.isNone(snapshot) ? Effect.succeed(snapshot) : Effect.asSome(expand(snapshot.value))

const badArgument = (message: string) => new BadArgument({ module: "SnapshotStore.compressed", message })

/** Checks the decorator's options. @internal */
export const checkOptions = (options: CompressOptions): BadArgument | undefined => {
  if (typeof options !== "object" || options === null) return badArgument("needs options { thresholdBytes }")
  if (typeof options.thresholdBytes !== "number" || !(options.thresholdBytes >= 0)) {
    return badArgument(`thresholdBytes must be a number >= 0, got ${String(options.thresholdBytes)}`)
  }
  const algorithm = options.algorithm ?? "gzip"
  if (algorithm !== "gzip" && algorithm !== "brotli") {
    return badArgument(`algorithm must be "gzip" or "brotli", got ${String(algorithm)}`)
  }
  const level = options.level
  const [min, max] = algorithm === "gzip" ? [0, 9] : [0, 11]
  if (level !== undefined && (!Number.isInteger(level) || level < min || level > max)) {
    return badArgument(`${algorithm} level must be an integer in ${min}..${max}, got ${String(level)}`)
  }
  return undefined
}

/** Wraps a store; the options must have passed `checkOptions`. @internal */
export const make = (inner: SnapshotStoreService, options: CompressOptions): SnapshotStoreService => {
  const algorithm = options.algorithm ?? "gzip"
  // The snapshot as it is stored: its state compressed when its JSON is above the threshold.
  const shrink = (snapshot: Snapshot): Effect.Effect<Snapshot, SnapshotStoreError> => {
    const state: unknown = snapshot.state
    if (state instanceof CompressedState) return Effect.succeed(snapshot)
    const json = storable.checkedJson(state) ?? JSON.stringify(state)
    // A UTF-16 length is at most the UTF-8 byte length: skip measuring states that are surely small.
    if (json.length * 3 <= options.thresholdBytes) return Effect.succeed(snapshot)
    const bytes = Buffer.from(json, "utf8")
    if (bytes.byteLength <= options.thresholdBytes) return Effect.succeed(snapshot)
    return Effect.map(deflate(algorithm, options.level, bytes), (compressed) =>
      withState(
        snapshot,
        new CompressedState({
          algorithm,
          bytes: new Uint8Array(compressed.buffer, compressed.byteOffset, compressed.byteLength)
        }, { disableChecks: true })
      ))
  }
  return {
    ...inner,
    // Checked before stringifying: JSON.stringify silently drops undefined and functions.
    save: (snapshot) =>
      Effect.suspend(() => {
        const error = validate.checkSnapshot(snapshot)
        return error === undefined ? Effect.flatMap(shrink(snapshot), inner.save) : Effect.fail(error)
      }),
    saveIfDue: (snapshot, dueOptions) =>
      Effect.suspend(() => {
        const error = validate.checkSaveIfDue(snapshot, dueOptions)
        return error === undefined
          ? Effect.flatMap(shrink(snapshot), (stored) => inner.saveIfDue(stored, dueOptions))
          : Effect.fail(error)
      }),
    load: (aggregateType, aggregateId, loadOptions) =>
      Effect.flatMap(inner.load(aggregateType, aggregateId, loadOptions), expandOption),
    latestForType: (aggregateType) => Effect.flatMap(inner.latestForType(aggregateType), expandOption)
  }
}
