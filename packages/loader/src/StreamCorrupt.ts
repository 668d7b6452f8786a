/**
 * The error of a stream that cannot be folded because its versions are not contiguous (a gap, or a tail
 * that does not start at the version it was read from). No snapshot or replay can fix it: the stream is corrupt.
 *
 * @since 0.2.0
 */
import * as Schema from "effect/Schema"
import { quote } from "./internal/text.js"

/**
 * A stream's versions are not contiguous: after version `expectedVersion - 1` the store answered
 * `actualVersion`. Not an event decode problem and not a snapshot problem: the event store's data is corrupt.
 *
 * @since 0.2.0
 * @category errors
 */
export class StreamCorrupt extends Schema.TaggedError<StreamCorrupt>("@effect-snapshots/loader/StreamCorrupt")(
  "StreamCorrupt",
  {
    aggregateType: Schema.String,
    aggregateId: Schema.String,
    /** The version the fold needed next. */
    expectedVersion: Schema.Int,
    /** The version the store answered instead. */
    actualVersion: Schema.Int
  }
) {
  override get message(): string {
    return `${this.aggregateType} ${quote(this.aggregateId)}: version gap in the stream, expected version ` +
      `${this.expectedVersion}, read ${this.actualVersion}`
  }
}
