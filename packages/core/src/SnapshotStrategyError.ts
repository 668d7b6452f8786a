/**
 * The errors of snapshot strategies, in their own module so that the public `SnapshotStrategy` module and its
 * internal implementation both use them.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

const quote = (s: string): string => JSON.stringify(s)

/**
 * A strategy names custom predicates that were not supplied.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownCustomStrategy extends Schema.TaggedError<UnknownCustomStrategy>(
  "@effect-snapshots/core/UnknownCustomStrategy"
)("UnknownCustomStrategy", {
  /** The names the strategy uses that have no predicate. */
  names: Schema.Array(Schema.String),
  /** The names that have a predicate. */
  known: Schema.Array(Schema.String)
}) {
  override get message(): string {
    const known = this.known.length === 0 ? "none were supplied" : `known: ${this.known.map(quote).join(", ")}`
    return `unknown custom snapshot strategy ${this.names.map(quote).join(", ")} (${known})`
  }
}
