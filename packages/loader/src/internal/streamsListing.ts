/**
 * `EventStore.streams`: the options check and the order shared by the backends, so they refuse the same input.
 *
 * @internal
 */
import type { StreamsOptions } from "../EventStore.js"
import { checkStreamKey } from "./eventInput.js"

/** A stream key of the listing. @internal */
export interface Key {
  readonly aggregateType: string
  readonly aggregateId: string
}

const compareText = (a: string, b: string): number => a < b ? -1 : a > b ? 1 : 0

/** The memory store's order: aggregate type, then aggregate id, by UTF-16 code unit. @internal */
export const compareStreams = (a: Key, b: Key): number =>
  compareText(a.aggregateType, b.aggregateType) || compareText(a.aggregateId, b.aggregateId)

/** The key `streams` resumes after (none: from the start), or a message saying what is wrong. @internal */
export const streamsAfter = (options: StreamsOptions): Key | string | undefined => {
  if (options.aggregateType !== undefined) {
    const problem = checkStreamKey(options.aggregateType, "-")
    if (problem !== undefined) return problem
  }
  const after = options.after
  if (after === undefined) return undefined
  if (typeof after === "string") {
    if (options.aggregateType === undefined) {
      return "streams: after may be a plain aggregate id only together with aggregateType"
    }
    return checkStreamKey(options.aggregateType, after) ?? { aggregateType: options.aggregateType, aggregateId: after }
  }
  return checkStreamKey(after.aggregateType, after.aggregateId) ?? after
}
