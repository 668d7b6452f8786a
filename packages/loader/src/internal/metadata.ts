/**
 * Event metadata given to `save` / `update`: checked (and encoded by the repository's `metadataSchema`, when
 * it has one) before anything is appended, then attached to every event of the batch.
 *
 * @internal
 */
import { Storable } from "@effect-snapshots/store"
import * as Result from "effect/Result"
import type * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import type { NewEvent } from "../EventStore.js"
import { InvalidMetadata } from "../RepositoryError.js"
import { jsonEncoder } from "./json.js"

const formatIssue = SchemaIssue.makeFormatterDefault()

/** Keys the library writes into an event's metadata itself (`Aggregate.EventVersionKey`). @internal */
export const reservedKeys: ReadonlyArray<string> = ["eventVersion"]

/** @internal */
export type Encode = (
  id: string,
  metadata: unknown
) => Result.Result<Readonly<Record<string, unknown>> | undefined, InvalidMetadata>

/** @internal */
export const make = (
  aggregateType: string,
  schema: Schema.Codec<unknown, unknown> | undefined
): Encode => {
  const encode = schema === undefined ? undefined : jsonEncoder(schema)
  return (id, metadata) => {
    if (metadata === undefined) return Result.succeed(undefined)
    const refuse = (reason: string) => Result.fail(new InvalidMetadata({ aggregateType, aggregateId: id, reason }))
    let encoded: unknown = metadata
    if (encode !== undefined) {
      const result = encode(metadata)
      if (Result.isFailure(result)) return refuse(formatIssue(result.failure))
      encoded = result.success
    }
    const problem = Storable.objectProblem(encoded)
    if (problem !== undefined) return refuse(`metadata: ${problem}`)
    const fields = encoded as Readonly<Record<string, unknown>>
    for (const key of reservedKeys) {
      if (key in fields) return refuse(`the key ${JSON.stringify(key)} is written by the library`)
    }
    for (const key of ["correlationId", "causationId"]) {
      const value = fields[key]
      if (value !== undefined && typeof value !== "string") return refuse(`${key} must be a string`)
    }
    return Result.succeed(fields)
  }
}

/** The batch with `metadata` on every event (the library's own keys kept). @internal */
export const attach = (
  events: ReadonlyArray<NewEvent>,
  metadata: Readonly<Record<string, unknown>> | undefined
): ReadonlyArray<NewEvent> =>
  metadata === undefined
    ? events
    : events.map((event) => ({ ...event, metadata: { ...metadata, ...event.metadata } }))
