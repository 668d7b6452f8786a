/**
 * The errors of the admin commands. Each one ends the CLI with exit code 2 (bad input, not found, cannot
 * connect) and one line on stderr, except `InconsistenciesFound` (exit code 1), which a command raises after
 * it has printed its report.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * Why a command could not do its work:
 * - `BadInput`: an argument is wrong (a bad duration, an unknown aggregate type, `--keep-last 0`).
 * - `NotFound`: what was asked for does not exist (`inspect` of a snapshot that is not stored).
 * - `Unavailable`: the database cannot be reached, or a query failed.
 *
 * @since 0.1.0
 * @category errors
 */
export type AdminErrorReason = "BadInput" | "NotFound" | "Unavailable"

/**
 * A command failed; `message` is the one line the CLI prints.
 *
 * @since 0.1.0
 * @category errors
 */
export class AdminError extends Data.TaggedError("@effect-snapshots/admin/AdminError")<{
  readonly reason: AdminErrorReason
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * A command found inconsistencies (drifted or orphan snapshots) and reported them: exit code 1.
 *
 * @since 0.1.0
 * @category errors
 */
export class InconsistenciesFound extends Data.TaggedError("@effect-snapshots/admin/InconsistenciesFound")<{
  readonly message: string
}> {}
