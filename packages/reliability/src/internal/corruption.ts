/** Corrupt snapshots, one kind at a time. @internal */
import { CompressedState, Snapshot } from "@effect-snapshots/store/Snapshot"

/**
 * The ways a snapshot read back from a store can be wrong, each one something a repository must detect,
 * skip and replay past.
 *
 * @since 0.1.0
 */
export type Corruption =
  | "TruncatedJson"
  | "WrongShape"
  | "BadGzip"
  | "BadBrotli"
  | "UnknownSchemaVersion"
  | "StaleFingerprint"
  | "VersionAboveStream"
  | "WrongAggregateType"
  | "WrongAggregateId"

/**
 * @since 0.1.0
 */
export const corruptions: ReadonlyArray<Corruption> = [
  "TruncatedJson",
  "WrongShape",
  "BadGzip",
  "BadBrotli",
  "UnknownSchemaVersion",
  "StaleFingerprint",
  "VersionAboveStream",
  "WrongAggregateType",
  "WrongAggregateId"
]

const garbageBytes = (rng: () => number, n: number): Uint8Array => {
  const bytes = new Uint8Array(n)
  for (let i = 0; i < n; i++) bytes[i] = Math.floor(rng() * 256)
  return bytes
}

/**
 * A corrupt copy of `snapshot`. `TruncatedJson` puts half of the state's JSON text where a JSON value
 * belongs (a store's text column read back without a closing brace); `StaleFingerprint` changes every
 * metadata value whose key mentions "fingerprint" (and adds one when there is none).
 *
 * @since 0.1.0
 */
export const corruptSnapshot = (snapshot: Snapshot, kind: Corruption, rng: () => number = Math.random): Snapshot => {
  const with_ = (patch: Partial<{ -readonly [K in keyof Snapshot]: Snapshot[K] }>) =>
    new Snapshot({ ...snapshot, ...patch }, { disableChecks: true })
  switch (kind) {
    case "TruncatedJson": {
      const text = JSON.stringify(snapshot.state) ?? "null"
      return with_({ state: text.slice(0, Math.max(1, Math.floor(text.length / 2))) })
    }
    case "WrongShape":
      return with_({ state: { corrupt: true, items: "not-an-array", n: "NaN" } })
    case "BadGzip": {
      // A gzip header followed by garbage: recognisably gzip, impossible to inflate.
      const bytes = garbageBytes(rng, 64)
      bytes[0] = 0x1f
      bytes[1] = 0x8b
      bytes[2] = 0x08
      return with_({ state: new CompressedState({ algorithm: "gzip", bytes }) })
    }
    case "BadBrotli":
      return with_({ state: new CompressedState({ algorithm: "brotli", bytes: garbageBytes(rng, 64) }) })
    case "UnknownSchemaVersion":
      return with_({ schemaVersion: snapshot.schemaVersion + 1000 })
    case "StaleFingerprint": {
      const metadata: Record<string, unknown> = {}
      let touched = false
      for (const [key, value] of Object.entries(snapshot.metadata)) {
        if (/fingerprint/i.test(key)) {
          metadata[key] = `stale-${String(value)}`
          touched = true
        } else {
          metadata[key] = value
        }
      }
      if (!touched) metadata.fingerprint = "stale-fingerprint"
      return with_({ metadata })
    }
    case "VersionAboveStream":
      return with_({ version: snapshot.version + 1_000_000 })
    case "WrongAggregateType":
      return with_({ aggregateType: `${snapshot.aggregateType}Other` })
    case "WrongAggregateId":
      return with_({ aggregateId: `${snapshot.aggregateId}-other` })
  }
}
