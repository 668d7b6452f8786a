/**
 * The errors of the event-sourced repository itself (re-exported by `EventSourcedRepository`).
 *
 * @since 0.2.0
 */
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
 * The repository options are invalid (a non-positive budget, a negative capacity).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRepositoryOptions extends Schema.TaggedError<InvalidRepositoryOptions>(
  "@effect-snapshots/loader/InvalidRepositoryOptions"
)("InvalidRepositoryOptions", { message: Schema.String }) {}
