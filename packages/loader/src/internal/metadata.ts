/**
 * Event metadata given to `save` / `update`: checked (and encoded by the repository's `metadataSchema`, when
 * it has one) before anything is appended, then attached to every event of the batch.
 *
 * @internal
 */
import { Storable } from "@effect-snapshots/store"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { NewEvent } from "../EventStore.js"
import { InvalidMetadata } from "../RepositoryError.js"

/** Keys the library writes into an event's metadata itself (`Aggregate.EventVersionKey`). @internal */
export const reservedKeys: ReadonlyArray<string> = ["eventVersion"]

/** @internal */
export type Encode = (
  id: string,
  metadata: unknown
) => Either.Either<Readonly<Record<string, unknown>> | undefined, InvalidMetadata>

/** @internal */
export const make = (
  aggregateType: string,
  schema: Schema.Schema.AnyNoContext | undefined
): Encode => {
  const encode = schema === undefined ? undefined : Schema.encodeUnknownEither(schema)
  return (id, metadata) => {
    if (metadata === undefined) return Either.right(undefined)
    const refuse = (reason: string) => Either.left(new InvalidMetadata({ aggregateType, aggregateId: id, reason }))
    let encoded: unknown = metadata
    if (encode !== undefined) {
      const result = encode(metadata)
      if (Either.isLeft(result)) return refuse(ParseResult.TreeFormatter.formatErrorSync(result.left))
      encoded = result.right
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
    return Either.right(fields)
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
