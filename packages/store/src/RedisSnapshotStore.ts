/**
 * A SnapshotStore on Redis, a backend of `SnapshotStoreBackend.makeEncoded`. Snapshots are derived data (the
 * events are the truth), so a volatile store is legitimate: a flushed or evicted Redis costs a replay, never a
 * failure or a wrong state. It talks to Redis through Effect's own `Redis` service (`effect/persistence/Redis`),
 * so this package needs no Redis client: provide one, e.g. `NodeRedis.layer({ url })` from
 * `@effect/platform-node` (node-redis).
 *
 * ```ts
 * const Snapshots = RedisSnapshotStore.layer.pipe(Layer.provide(NodeRedis.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * Every write is one Lua script, atomic on the server (`saveIfDue` decides there). Redis is in no transaction
 * of the application: inside a `UnitOfWork` a snapshot is written once the unit committed; inside a bare SQL
 * transaction a write is refused (see `SnapshotStoreBackend.Operations.transactions`). One Redis server (or a
 * primary and its replicas), not Redis Cluster: a script touches an aggregate's keys and its type's indexes.
 *
 * Keys, under `prefix` (`<type>` and `<id>` as given, NUL between them):
 * - `types`: the aggregate types with snapshots; `ids:<type>`: that type's ids (sorted sets, read by lex order)
 * - `history:<type>\0<id>`: a sorted set by version of `<version, 16 digits>:<createdAt ms>:<schemaVersion>:<metadata>`
 * - `states:<type>\0<id>`: a hash from the 16-digit version to the state (`j` + JSON, `g`/`b` + base64 bytes)
 * - `created:<type>`: every snapshot of the type by creation time, for `latestForType`
 *
 * @since 1.1.0
 */
import { BadArgument } from "@effect-snapshots/core/BadArgument"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redis from "effect/persistence/Redis"
import * as Stream from "effect/Stream"
import * as backend from "./internal/backend.js"
import { SnapshotKey } from "./Snapshot.js"
import { SnapshotStore, type SnapshotStoreService } from "./SnapshotStore.js"
import type * as SnapshotStoreBackend from "./SnapshotStoreBackend.js"
import * as corruption from "./SnapshotStoreError.js"
import { SnapshotStoreError } from "./SnapshotStoreError.js"

/**
 * @since 1.1.0
 * @category models
 */
export interface Options {
  /** The prefix of every key; default `"effect-snapshots:"`. Stores with other prefixes share a server apart. */
  readonly prefix?: string | undefined
  /** How many keys `aggregates` reads per command; default 1000. */
  readonly pageSize?: number | undefined
}

/**
 * @since 1.1.0
 * @category constants
 */
export const defaultPrefix = "effect-snapshots:"

const badArgument = (message: string) => new BadArgument({ module: "RedisSnapshotStore.layerWith", message })

const pad = (version: number): string => String(version).padStart(16, "0")

/** A script on the first `numberOfKeys` of an aggregate's keys (`keysOf` below) and its arguments. */
const script = (numberOfKeys: number, lua: string) =>
  Redis.script(
    (keys: ReadonlyArray<string>, args: ReadonlyArray<string | number>) => [...keys.slice(0, numberOfKeys), ...args],
    { numberOfKeys, lua }
  )

// Removes one snapshot (its history member, its state, its entry in the type's creation index).
const removeOne = `local function removeOne(member, history, states, created, id)
  local field = string.sub(member, 1, 16)
  redis.call('ZREM', history, member)
  redis.call('HDEL', states, field)
  redis.call('ZREM', created, field .. '\\0' .. id)
end
`

const insertScript = script(
  5,
  `if ARGV[7] ~= '' and redis.call('ZCOUNT', KEYS[1], ARGV[7], '+inf') > 0 then return 0 end
if redis.call('ZCOUNT', KEYS[1], ARGV[2], ARGV[2]) == 0 then
  local field = string.sub(ARGV[1], 1, 16)
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  redis.call('HSET', KEYS[2], field, ARGV[3])
  redis.call('ZADD', KEYS[4], 0, ARGV[4])
  redis.call('ZADD', KEYS[3], ARGV[6], field .. '\\0' .. ARGV[4])
  redis.call('ZADD', KEYS[5], 0, ARGV[5])
end
return 1`
).withReturnType<number>()

const newestScript = script(
  2,
  `local found = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, 1)
if #found == 0 then return false end
local state = redis.call('HGET', KEYS[2], string.sub(found[1], 1, 16))
if not state then return false end
return {found[1], state}`
).withReturnType<unknown>()

const removeScript = script(
  5,
  `${removeOne}local members
if ARGV[1] == '' then members = redis.call('ZRANGE', KEYS[1], 0, -1)
else members = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1]) end
for _, member in ipairs(members) do removeOne(member, KEYS[1], KEYS[2], KEYS[3], ARGV[2]) end
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[4], ARGV[2])
  if redis.call('ZCARD', KEYS[4]) == 0 then redis.call('ZREM', KEYS[5], ARGV[3]) end
end
return #members`
).withReturnType<number>()

// Never removes an aggregate's newest snapshot (keepLast >= 1), so the indexes of ids and types stay as they are.
const pruneScript = script(
  3,
  `${removeOne}local deleted = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -(tonumber(ARGV[1]) + 1))) do
  local createdAt = tonumber(string.match(member, '^%d+:(%-?%d+):'))
  if ARGV[2] == '' or (createdAt ~= nil and createdAt < tonumber(ARGV[2])) then
    removeOne(member, KEYS[1], KEYS[2], KEYS[3], ARGV[3])
    deleted = deleted + 1
  end
end
return deleted`
).withReturnType<number>()

type Failure = Redis.RedisError | SnapshotStoreError

// A key under the prefix holding another type than the store wrote (WRONGTYPE) is not ours: retrying cannot help.
const toError = (operation: string, error: Failure): SnapshotStoreError => {
  if (error instanceof SnapshotStoreError) return error
  const message = String((error.cause as { readonly message?: unknown } | undefined)?.message ?? error.cause)
  return new SnapshotStoreError({
    reason: message.startsWith("WRONGTYPE") ? "Corrupt" : "Unavailable",
    message: `${operation} failed: Redis: ${message.slice(0, 300)}`,
    cause: error
  })
}

const decodeInfo = (aggregateType: string, aggregateId: string, member: string): SnapshotStoreBackend.EncodedInfo => {
  const created = member.indexOf(":", 17)
  const metadata = member.indexOf(":", created + 1)
  // A malformed member decodes to NaN fields, which `makeEncoded` reports as Corrupt.
  return {
    aggregateType,
    aggregateId,
    version: member[16] === ":" ? Number(member.slice(0, 16)) : Number.NaN,
    createdAt: created < 0 ? Number.NaN : Number(member.slice(17, created)),
    schemaVersion: metadata < 0 ? Number.NaN : Number(member.slice(created + 1, metadata)),
    metadata: member.slice(metadata + 1)
  }
}

const encodeState = (state: SnapshotStoreBackend.EncodedState): string =>
  state.encoding === "json"
    ? `j${state.json}`
    : `${state.encoding === "gzip" ? "g" : "b"}${Buffer.from(state.bytes).toString("base64")}`

const decodeState = (text: string): SnapshotStoreBackend.EncodedState | undefined => {
  if (text[0] === "j") return { encoding: "json", json: text.slice(1) }
  if (text[0] !== "g" && text[0] !== "b") return undefined
  const bytes = Buffer.from(text.slice(1), "base64")
  return {
    encoding: text[0] === "g" ? "gzip" : "brotli",
    bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }
}

const decodeFound =
  (aggregateType: string, aggregateId: string) =>
  (found: unknown): Effect.Effect<Option.Option<SnapshotStoreBackend.EncodedSnapshot>, Failure> => {
    if (found === null) return Effect.succeedNone
    const [member, text] = Array.isArray(found) ? found : []
    const state = typeof text === "string" ? decodeState(text) : undefined
    return typeof member === "string" && state !== undefined
      ? Effect.succeedSome({ ...decodeInfo(aggregateType, aggregateId, member), state })
      : Effect.fail(corruption.corrupt(`a stored Redis snapshot of ${aggregateType} is malformed`))
  }

/**
 * The Redis backend on the `Redis` service in context; fails with `BadArgument` on bad options.
 *
 * @since 1.1.0
 * @category constructors
 */
export const makeBackend: (
  options?: Options
) => Effect.Effect<SnapshotStoreBackend.Encoded<Failure>, BadArgument, Redis.Redis> = Effect.fnUntraced(
  function*(options: Options = {}) {
    const prefix = options.prefix ?? defaultPrefix
    const pageSize = options.pageSize ?? 1000
    if (typeof prefix !== "string") return yield* badArgument(`prefix must be a string, got ${String(prefix)}`)
    if (!Number.isSafeInteger(pageSize) || pageSize < 1) {
      return yield* badArgument(`pageSize must be an integer >= 1, got ${String(pageSize)}`)
    }
    const redis = yield* Redis.Redis
    const insert = redis.eval(insertScript)
    const newest = redis.eval(newestScript)
    const remove = redis.eval(removeScript)
    const pruneOne = redis.eval(pruneScript)
    const typesKey = `${prefix}types`
    const idsKey = (type: string) => `${prefix}ids:${type}`
    const createdKey = (type: string) => `${prefix}created:${type}`

    /** An aggregate's keys, in the order the scripts take them (each takes the first 2, 3 or 5). */
    const keysOf = (type: string, id: string) => [
      `${prefix}history:${type}\u0000${id}`,
      `${prefix}states:${type}\u0000${id}`,
      createdKey(type),
      idsKey(type),
      typesKey
    ]

    const write = (row: SnapshotStoreBackend.EncodedSnapshot, dueFrom: string) =>
      insert(keysOf(row.aggregateType, row.aggregateId), [
        `${pad(row.version)}:${row.createdAt}:${row.schemaVersion}:${row.metadata}`,
        row.version,
        encodeState(row.state),
        row.aggregateId,
        row.aggregateType,
        row.createdAt,
        dueFrom
      ])

    const exactly = (type: string, id: string, max: string, min: string) =>
      Effect.flatMap(newest(keysOf(type, id), [max, min]), decodeFound(type, id))

    /** A sorted set's members in lex order, a page per command. */
    const members = (key: string): Stream.Stream<string, Failure> =>
      Stream.paginate("-", (after: string) =>
        Effect.map(
          redis.send<ReadonlyArray<string>>("ZRANGEBYLEX", key, after, "+", "LIMIT", "0", String(pageSize)),
          (page) => [page, page.length < pageSize ? Option.none() : Option.some(`(${page[page.length - 1]}`)] as const
        ))

    const keys = (aggregateType: string | undefined): Stream.Stream<SnapshotKey, Failure> =>
      aggregateType === undefined ? Stream.flatMap(members(typesKey), keys) : Stream.map(
        members(idsKey(aggregateType)),
        (aggregateId) => new SnapshotKey({ aggregateType, aggregateId }, { disableChecks: true })
      )

    const latestOfType = (type: string, attempts: number): Effect.Effect<
      Option.Option<SnapshotStoreBackend.EncodedSnapshot>,
      Failure
    > =>
      Effect.flatMap(redis.send<ReadonlyArray<string>>("ZREVRANGE", createdKey(type), "0", "0"), ([entry]) => {
        if (entry === undefined) return Effect.succeedNone
        const version = String(Number(entry.slice(0, 16)))
        return Effect.flatMap(exactly(type, entry.slice(17), version, version), (found) =>
          // Deleted between the two commands: look again.
          Option.isNone(found) && attempts > 1 ? latestOfType(type, attempts - 1) : Effect.succeed(found))
      })

    const encoded: SnapshotStoreBackend.Encoded<Failure> = {
      name: "redis",
      transactions: "outside",
      toError,
      insert: (row) => Effect.asVoid(write(row, "")),
      insertIfDue: (row, dueFrom) =>
        Effect.map(write(row, String(dueFrom)), (written) => written === 1 ? "Written" : "AlreadyCovered"),
      newest: (type, id, maxVersion) =>
        exactly(type, id, maxVersion === undefined ? "+inf" : String(maxVersion), "-inf"),
      history: (type, id) =>
        Effect.map(
          redis.send<ReadonlyArray<string>>("ZRANGE", keysOf(type, id)[0]!, "0", "-1"),
          (members) => members.map((member) => decodeInfo(type, id, member))
        ),
      remove: (type, id, version) => remove(keysOf(type, id), [version === undefined ? "" : String(version), id, type]),
      latestOfType: (type) => latestOfType(type, 3),
      keys,
      prune: ({ aggregateType, cutoff, keepLast }) =>
        // A cutoff before any representable time: nothing is old enough.
        cutoff !== undefined && !Number.isFinite(cutoff) ? Effect.succeed(0) : keys(aggregateType).pipe(
          Stream.mapEffect(({ aggregateId, aggregateType }) =>
            pruneOne(keysOf(aggregateType, aggregateId), [
              keepLast,
              cutoff === undefined ? "" : String(cutoff),
              aggregateId
            ]), { concurrency: 8 }),
          Stream.runFold(() => 0, (total, deleted) => total + deleted)
        )
    }
    return encoded
  }
)

/**
 * Deletes every key under `prefix` (default `effect-snapshots:`), that is every snapshot of the store there: `SCAN`
 * and `UNLINK` a page at a time, so the server is never blocked. Answers how many keys went. For tests, and for
 * dropping a store; an empty prefix (the whole database) is refused with `BadArgument`.
 *
 * @since 1.1.0
 * @category maintenance
 */
export const clear = (
  options: Pick<Options, "prefix"> = {}
): Effect.Effect<number, SnapshotStoreError | BadArgument, Redis.Redis> =>
  Effect.gen(function*() {
    const prefix = options.prefix ?? defaultPrefix
    if (typeof prefix !== "string" || prefix === "") {
      return yield* new BadArgument({
        module: "RedisSnapshotStore.clear",
        message: "prefix must be a non-empty string"
      })
    }
    const redis = yield* Redis.Redis
    const pattern = `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`
    let cursor = "0"
    let deleted = 0
    do {
      const [next, keys] = yield* redis.send<[string, Array<string>]>("SCAN", cursor, "MATCH", pattern, "COUNT", "1000")
      if (keys.length > 0) deleted += yield* redis.send<number>("UNLINK", ...keys)
      cursor = next
    } while (cursor !== "0")
    return deleted
  }).pipe(Effect.catchTag("RedisError", (error) => Effect.fail(toError("clear", error))))

/**
 * The store on the `Redis` service in context.
 *
 * @since 1.1.0
 * @category constructors
 */
export const make = (options?: Options): Effect.Effect<SnapshotStoreService, BadArgument, Redis.Redis> =>
  Effect.map(makeBackend(options), backend.makeEncoded)

/**
 * The store as a layer with options.
 *
 * @since 1.1.0
 * @category layers
 */
export const layerWith = (options: Options): Layer.Layer<SnapshotStore, BadArgument, Redis.Redis> =>
  Layer.effect(SnapshotStore, make(options))

/**
 * The store under the default prefix `effect-snapshots:`.
 *
 * @since 1.1.0
 * @category layers
 */
export const layer: Layer.Layer<SnapshotStore, BadArgument, Redis.Redis> = layerWith({})
