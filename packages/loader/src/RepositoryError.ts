/**
 * The errors of the event-sourced repository itself, re-exported by `EventSourcedRepository`: a stream without
 * events (`AggregateNotFound`), a stream whose versions are not contiguous (`StreamCorrupt`), metadata refused
 * before anything was written (`InvalidMetadata`). The loader's other errors sit with what raises them: the
 * event store's (`ConcurrencyConflict`, `EventStoreError`) in `EventStore`, an event's codec failures
 * (`EventDecodeError`, `EventEncodeError`) in `Aggregate`; a programmer's bad argument is core's `BadArgument`.
 *
 * @since 0.2.0
 */
import { BadArgument } from "@effect-snapshots/core"
import * as Schema from "effect/Schema"
import { quote } from "./internal/text.js"

/**
 * The aggregate has no events.
 *
 * @since 0.1.0
 * @category errors
 */
export class AggregateNotFound extends Schema.TaggedError<AggregateNotFound>(
  "@effect-snapshots/loader/AggregateNotFound"
)("AggregateNotFound", {
  aggregateType: Schema.String,
  aggregateId: Schema.String
}) {
  override get message(): string {
    return `${this.aggregateType} ${quote(this.aggregateId)} has no events`
  }
}

/**
 * The old error for bad repository options. `EventSourcedRepository.make` now fails with core's `BadArgument`
 * (module `"EventSourcedRepository.make"`), the one error for a programmer's mistake in every package; this
 * name is kept as an alias of it so existing `catchTag`s on the type still compile.
 *
 * @since 0.1.0
 * @category errors
 * @deprecated use `BadArgument` from `@effect-snapshots/core`
 */
export const InvalidRepositoryOptions = BadArgument.BadArgument

/**
 * @since 0.1.0
 * @category errors
 * @deprecated use `BadArgument` from `@effect-snapshots/core`
 */
export type InvalidRepositoryOptions = BadArgument.BadArgument

/**
 * The metadata given to `save` or `update` was refused (it does not match the repository's `metadataSchema`,
 * is not plain JSON data, or uses a key the library writes itself); nothing was written.
 *
 * @since 0.3.0
 * @category errors
 */
export class InvalidMetadata extends Schema.TaggedError<InvalidMetadata>(
  "@effect-snapshots/loader/InvalidMetadata"
)("InvalidMetadata", {
  aggregateType: Schema.String,
  aggregateId: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Metadata for ${this.aggregateType} ${quote(this.aggregateId)} refused: ${this.reason}`
  }
}

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
