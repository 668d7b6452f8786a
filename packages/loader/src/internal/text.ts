/**
 * User-supplied values in log lines and error messages: quoted, and cut to `max` characters with their length,
 * so a 10 KB id never becomes a 20 KB log line.
 *
 * @internal
 */
export const quote = (value: string, max = 200): string =>
  value.length <= max
    ? JSON.stringify(value)
    : `${JSON.stringify(value.slice(0, max))}… (${value.length} chars)`

/** A user-supplied value for a span or log annotation: as is, or cut to `max` characters with an ellipsis. @internal */
export const cut = (value: string, max = 200): string => value.length <= max ? value : `${value.slice(0, max)}…`
