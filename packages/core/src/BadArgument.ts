/**
 * The one error for a programmer's mistake: a constructor, layer or function was given an option or argument
 * it cannot work with (a negative threshold, an empty name, a batch size of 0). It is raised when the bad value
 * is used, never for a runtime failure: those keep their service error and its `reason`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A constructor, layer or function was given an argument it cannot work with.
 *
 * - `module`: where, as `Module.function` (e.g. `"SqlSnapshotStore.layerWith"`).
 * - `message`: what is wrong, naming the option, what it must be and what it was given
 *   (e.g. `"thresholdBytes must be a positive integer, got -1"`).
 *
 * The message of the error starts with the module (`"SqlSnapshotStore.layerWith: thresholdBytes must be a
 * positive integer, got -1"`), so a log or `Cause.pretty` says where the mistake was made. The prefix is added
 * once: a message that already starts with `module + ": "` is kept as it is, so the error encodes and decodes
 * to an equal value.
 *
 * @example
 * ```ts
 * import { BadArgument } from "@effect-snapshots/core"
 * import { Effect } from "effect"
 *
 * const layerWith = (options: { readonly batchSize: number }) =>
 *   Number.isSafeInteger(options.batchSize) && options.batchSize > 0
 *     ? Effect.succeed(options)
 *     : Effect.fail(
 *       new BadArgument.BadArgument({
 *         module: "Example.layerWith",
 *         message: `batchSize must be a positive integer, got ${options.batchSize}`
 *       })
 *     )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class BadArgument extends Schema.TaggedError<BadArgument>("@effect-snapshots/core/BadArgument")("BadArgument", {
  module: Schema.String,
  message: Schema.String
}) {
  constructor(
    props: { readonly module: string; readonly message: string },
    options?: Schema.MakeOptions
  ) {
    const prefix = `${props.module}: `
    super(
      props.message.startsWith(prefix) ? props : { module: props.module, message: prefix + props.message },
      options
    )
  }
}

/**
 * Whether a value is a `BadArgument`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isBadArgument = (u: unknown): u is BadArgument => u instanceof BadArgument
