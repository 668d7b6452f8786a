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
