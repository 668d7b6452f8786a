import { SnapshotStrategy } from "@effect-snapshots/core"
import * as Schema from "effect/Schema"

// Placeholder until the demo issue: proves the toolchain runs a TypeScript program end to end.
console.log(Schema.decodeUnknownSync(SnapshotStrategy.placeholder)("placeholder"))
