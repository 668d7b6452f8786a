/**
 * User-supplied values in log lines, error messages and span attributes, cut so that a 10 KB id never becomes
 * a 20 KB log line.
 *
 * @internal
 */
import { Storable } from "@effect-snapshots/store"

/** A value in a message: quoted, cut to 200 characters with its length (the store's `Storable.show`). */
export const quote: (value: string) => string = Storable.show

/** A user-supplied value for a span or log annotation: as is, or cut to `max` characters with an ellipsis. @internal */
export const cut = (value: string, max = 200): string => value.length <= max ? value : `${value.slice(0, max)}…`

/**
 * A detail (a Schema issue, a store's message) for a one-line message: its lines joined with "; " (a path line
 * "at [...]" with a space, indentation dropped), cut to `max` characters with the full length.
 *
 * @internal
 */
export const oneLine = (text: string, max = 200): string => {
  const line = text.includes("\n") || text.includes("\r")
    ? text.split(/\r?\n|\r/).map((part) => part.trim()).filter((part) => part !== "").reduce(
      (joined, part) => joined === "" ? part : `${joined}${part.startsWith("at ") ? " " : "; "}${part}`,
      ""
    )
    : text
  return line.length <= max ? line : `${line.slice(0, max)}… (${line.length} characters)`
}
