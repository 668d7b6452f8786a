/**
 * The one policy for what the stores accept: aggregate keys, snapshot states and metadata, event payloads
 * and metadata. Every backend (memory and SQL, snapshot and event stores) checks its input with these
 * functions before anything is written, so the memory backends refuse exactly what Postgres refuses, with
 * the same message.
 *
 * The policy:
 * - **Keys**: `aggregateType` and `aggregateId` are non-empty strings without NUL and without lone UTF-16
 *   surrogates, at most 256 and 2048 UTF-8 bytes (the btree key (type, id, version) must stay below
 *   Postgres' row limit). Other names (an event's type) follow the same rules without a length limit.
 * - **JSON values** (a state, a payload, metadata): `null`, booleans, finite numbers, strings, arrays and
 *   plain objects (prototype `Object.prototype` or `null`) of those. No NUL character and no lone UTF-16
 *   surrogate in any string or key (`jsonb` cannot hold them; a driver would replace a surrogate with
 *   U+FFFD). No `NaN`/`Infinity`, bigints, functions, symbols, class instances (`Date`, `Map`, your own
 *   classes: encode them with their Schema first), cycles, or `undefined` as a value or an array element.
 *   A property whose value is `undefined` is allowed and left out, as `JSON.stringify` leaves it out (an
 *   optional field's encoding); a memory store, which keeps values by reference, still holds it.
 * - **Depth**: at most 512 levels of nesting.
 *
 * The functions answer a problem message (`undefined` when the input is fine) and never throw: they are
 * one pass over the value without allocations on success, for the save and append paths. User values in
 * messages are cut to 200 characters, with their length (`show`).
 *
 * ```ts
 * const problem = Storable.keyProblem(type, id) ?? Storable.jsonProblem(state)
 * if (problem !== undefined) return Effect.fail(new MyError({ reason: "InvalidInput", message: problem }))
 * ```
 *
 * @since 0.2.0
 */
import * as Result from "effect/Result"
import * as internal from "./internal/storable.js"

/**
 * The largest `aggregateType`, in UTF-8 bytes.
 *
 * @since 0.2.0
 * @category limits
 */
export const maxAggregateTypeBytes: number = internal.maxAggregateTypeBytes

/**
 * The largest `aggregateId`, in UTF-8 bytes.
 *
 * @since 0.2.0
 * @category limits
 */
export const maxAggregateIdBytes: number = internal.maxAggregateIdBytes

/**
 * The deepest nesting of a JSON value.
 *
 * @since 0.2.0
 * @category limits
 */
export const maxDepth: number = internal.maxDepth

/**
 * Why an aggregate key is not storable (`"aggregateId must not be empty"`), or `undefined`.
 *
 * @since 0.2.0
 * @category checks
 */
export const keyProblem: (aggregateType: unknown, aggregateId: unknown) => string | undefined = internal.keyProblem

/**
 * Why an aggregate type is not storable, or `undefined`.
 *
 * @since 0.2.0
 * @category checks
 */
export const typeProblem: (aggregateType: unknown) => string | undefined = internal.typeProblem

/**
 * Why a name (`what` says which, e.g. `"events[2].type"`) is not storable: not a string, empty, NUL, a lone
 * surrogate, or longer than `maxBytes` UTF-8 bytes when given; or `undefined`.
 *
 * @since 0.2.0
 * @category checks
 */
export const nameProblem: (what: string, value: unknown, maxBytes?: number) => string | undefined = internal.nameProblem

/**
 * Why a value is not storable JSON, with the path to the first offending part
 * (`"NaN is not a JSON number at .lines[3].qty"`), or `undefined`.
 *
 * @since 0.2.0
 * @category checks
 */
export const jsonProblem: (value: unknown) => string | undefined = internal.jsonProblem

/**
 * Why a value is not a plain JSON object (metadata), or `undefined`.
 *
 * @since 0.2.0
 * @category checks
 */
export const objectProblem: (value: unknown) => string | undefined = internal.objectProblem

/**
 * Why a string cannot be stored (`"contains a NUL character (\u0000)"`, `"contains a lone UTF-16
 * surrogate"`), or `undefined`.
 *
 * @since 0.2.0
 * @category checks
 */
export const characterProblem: (s: string) => string | undefined = internal.characterProblem

/**
 * A user-supplied string for a message or a log annotation: JSON-quoted, cut to 200 characters with its
 * length (`"\"order-…\"… (10240 characters)"`).
 *
 * @since 0.2.0
 * @category messages
 */
export const show: (value: string) => string = internal.show

/**
 * Checks `value` against the storable-JSON policy and answers its JSON text (`Result.fail`: why it is not
 * storable), in one walk and one `JSON.stringify`. The stores remember the text of an object checked here:
 * saving a snapshot whose state is that same object, unchanged, neither walks nor stringifies it again. The
 * repository's snapshot writer uses it to count the bytes it writes; do not mutate a value after checking it.
 *
 * @since 0.2.0
 * @category checks
 */
export const toJson = (value: unknown): Result.Result<string, string> => {
  const result = internal.toJson(value)
  return "text" in result ? Result.succeed(result.text) : Result.fail(result.problem)
}
