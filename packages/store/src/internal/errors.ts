/**
 * Mapping of backend failures to `SnapshotStoreError`, at the service boundary.
 *
 * @internal
 */
import type { SqlError } from "@effect/sql/SqlError"
import type { ParseError } from "effect/ParseResult"
import { SnapshotStoreError } from "../SnapshotStore.js"
import type { SnapshotStoreErrorReason } from "../SnapshotStore.js"

/** The SQLSTATE of a driver error somewhere in a cause chain (pg and PGlite put it in `code`). @internal */
export const sqlState = (error: unknown): string | undefined => {
  let current: unknown = error
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

const causeMessage = (error: unknown): string | undefined => {
  const cause = (error as { cause?: unknown }).cause
  if (typeof cause === "object" && cause !== null) {
    const message = (cause as { message?: unknown }).message
    if (typeof message === "string" && message !== "") return message
  }
  return undefined
}

/** A failure's message, with its driver cause's message and SQLSTATE when there is one. @internal */
export const describe = (error: unknown): string => {
  if (typeof error !== "object" || error === null) return String(error)
  const message = (error as { message?: unknown }).message
  const own = typeof message === "string" ? message : String(error)
  const inner = causeMessage(error)
  const state = sqlState(error)
  return `${own}${inner === undefined ? "" : `: ${inner}`}${state === undefined ? "" : ` (SQLSTATE ${state})`}`
}

/**
 * A `SqlError` as a store error: SQLSTATE class 23 (integrity constraint) is a Conflict, class 22 (data
 * exception: a value the column cannot hold, e.g. 22P05 for NUL in jsonb) is InvalidInput, anything else
 * (connection, timeout, missing table) is Unavailable. @internal
 */
export const fromSqlError = (operation: string) => (error: SqlError): SnapshotStoreError => {
  const state = sqlState(error.cause)
  const reason: SnapshotStoreErrorReason = state?.startsWith("23")
    ? "Conflict"
    : state?.startsWith("22")
    ? "InvalidInput"
    : "Unavailable"
  const detail = causeMessage(error) ?? error.message
  return new SnapshotStoreError({
    reason,
    message: `${operation} failed${state === undefined ? "" : ` (SQLSTATE ${state})`}: ${detail}`,
    cause: error
  })
}

/** A row that does not decode: the stored data is corrupt. @internal */
export const fromParseError = (operation: string) => (error: ParseError): SnapshotStoreError =>
  new SnapshotStoreError({
    reason: "Corrupt",
    message: `${operation}: a stored row could not be decoded: ${error.message}`,
    cause: error
  })

/** @internal */
export const corrupt = (message: string, cause?: unknown): SnapshotStoreError =>
  new SnapshotStoreError(cause === undefined ? { reason: "Corrupt", message } : { reason: "Corrupt", message, cause })
