/**
 * The event-sourced entity's behaviour: one `Hot` state per entity instance, loaded through the repository on
 * the first command after activation, advanced only by a committed append, dropped on any failed one.
 *
 * @internal
 */
import { Aggregate, EventStore as EventStoreModule } from "@effect-snapshots/loader"
import { Snapshot, SnapshotStore as SnapshotStoreModule } from "@effect-snapshots/store"
import * as Entity from "effect/cluster/Entity"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type * as Rpc from "effect/rpc/Rpc"
import * as Stream from "effect/Stream"
import { EntityError, type EntityErrorReason } from "../EntityError.js"
import type * as EventSourcedEntity from "../EventSourcedEntity.js"

type AnyHandler = EventSourcedEntity.Handler<unknown, { readonly _tag: string }, unknown, unknown, unknown, unknown>

interface Hot<S> {
  readonly state: S
  readonly version: number
  /** The global position of the event at `version`, when known (a snapshot records it). */
  readonly position: number | undefined
  /** The newest snapshot version this instance knows of. */
  readonly snapshotVersion: number
  /** The latest command ids, oldest first (a Map keeps insertion order). */
  readonly recent: Map<string, number>
}

const defaultWindow = 100

/**
 * A command's identity across redeliveries: the cluster's request id, the command and a hash of its payload.
 * Request ids are unique within one cluster (its runners get distinct machine ids); the payload's hash keeps
 * two owners of a split brain, whose ids may collide, from taking each other's commands for redeliveries.
 */
const commandIdOf = (requestId: bigint, tag: string, payload: unknown): string => {
  let text: string
  try {
    text = JSON.stringify(payload, (_, value) => typeof value === "bigint" ? `${value}n` : value) ?? ""
  } catch {
    text = String(payload)
  }
  // FNV-1a, 32 bits
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193)
  return `${requestId}/${tag}/${(hash >>> 0).toString(36)}`
}

const cutId = (id: string) => id.length > 100 ? `${id.slice(0, 100)}…` : id

/** @internal */
export const layer = <Type extends string, Rpcs extends Rpc.Any, S, E extends { readonly _tag: string }, R>(
  entity: Entity.Entity<Type, Rpcs>,
  repositoryKey: EventSourcedEntity.Repository<unknown, S, unknown, E, unknown>,
  handlers: EventSourcedEntity.Handlers<Rpcs, S, E, R>,
  options: EventSourcedEntity.Options
  // The handlers are built from the protocol at run time; their types were checked by `Handlers<Rpcs, ...>`.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Layer.Layer<never, never, any> => {
  const aggregate = repositoryKey.aggregate
  const window = options.deduplicationWindow ?? defaultWindow
  const handlerOf = handlers as unknown as Record<string, AnyHandler>

  const build = Effect.gen(function*() {
    const repository = yield* repositoryKey
    const events = yield* EventStoreModule.EventStore
    const snapshots = yield* SnapshotStoreModule.SnapshotStore
    const address = yield* Entity.CurrentAddress
    const entityId = address.entityId
    const entityType = entity.type

    const fail = (reason: EntityErrorReason, message: string) =>
      new EntityError({
        entityType,
        entityId,
        reason,
        message: `${entityType} ${JSON.stringify(cutId(entityId))}: ${message}`
      })

    const fromStore = (error: { readonly _tag: string; readonly message: string; readonly reason?: string }) => {
      switch (error._tag) {
        case "ConcurrencyConflict":
          return fail("OwnershipLost", `another owner wrote to the stream (${error.message}); state dropped`)
        case "EventStoreError":
          return fail(
            error.reason === "Corrupt" ? "Corrupt" : error.reason === "InvalidInput" ? "Invalid" : "Unavailable",
            error.message
          )
        case "EventDecodeError":
        case "StreamCorrupt":
          return fail("Corrupt", error.message)
        default:
          return fail("Invalid", error.message)
      }
    }

    let hot: Hot<S> | undefined

    /** The command ids and the position of the latest events, read back from the stream's tail. */
    const readRecent = (version: number) =>
      // Up to the loaded version only: the position becomes a snapshot's, so it must be the event's at `version`.
      events.read(aggregate.type, entityId, {
        fromVersion: Math.max(1, version - Math.max(window, 1) + 1),
        toVersion: version
      }).pipe(
        Stream.runFold(
          () => ({ recent: new Map<string, number>(), position: undefined as number | undefined }),
          (acc, event) => {
            const causation = event.metadata["causationId"]
            if (typeof causation === "string") acc.recent.set(causation, event.version)
            acc.position = event.position
            return acc
          }
        )
      )

    const activate = Effect.gen(function*() {
      const loaded = yield* repository.load(entityId).pipe(
        Effect.map(Option.some),
        Effect.catch((error) => error._tag === "AggregateNotFound" ? Effect.succeedNone : Effect.fail(error))
      )
      const tail = Option.isSome(loaded) && (window > 0 || options.snapshotOnPassivation === true)
        ? yield* readRecent(loaded.value.version)
        : { recent: new Map<string, number>(), position: undefined }
      const next: Hot<S> = Option.match(loaded, {
        onNone: () => ({
          state: aggregate.initial(entityId),
          version: 0,
          position: undefined,
          snapshotVersion: 0,
          recent: tail.recent
        }),
        onSome: (loaded) => ({
          state: loaded.state,
          version: loaded.version,
          position: tail.position,
          snapshotVersion: Option.getOrElse(loaded.snapshotVersion, () => 0),
          recent: tail.recent
        })
      })
      if (options.onActivation !== undefined) {
        yield* options.onActivation({
          entityType,
          entityId,
          version: next.version,
          source: Option.match(loaded, { onNone: () => "new" as const, onSome: (loaded) => loaded.source }),
          snapshotVersion: Option.flatMap(loaded, (loaded) => loaded.snapshotVersion),
          replayed: Option.match(loaded, { onNone: () => 0, onSome: (loaded) => loaded.replayed })
        })
      }
      hot = next
      return next
    }).pipe(Effect.mapError(fromStore))

    const current = Effect.suspend(() => hot === undefined ? activate : Effect.succeed(hot))

    const remember = (recent: Map<string, number>, commandId: string, version: number) => {
      if (window === 0) return
      recent.delete(commandId)
      recent.set(commandId, version)
      while (recent.size > window) recent.delete(recent.keys().next().value!)
    }

    const serve = (tag: string, handler: AnyHandler) => (request: Entity.Request<Rpc.Any>) =>
      Effect.gen(function*() {
        const payload = request.payload
        const commandId = commandIdOf(request.requestId, tag, payload)
        const known = yield* current
        if (known.recent.has(commandId)) return handler.reply(known.state, payload)
        const context: EventSourcedEntity.CommandContext = { entityId, version: known.version, commandId }
        const decided = handler.decide === undefined
          ? []
          : (yield* handler.decide(known.state, payload, context)) as ReadonlyArray<E>
        if (decided.length === 0) return handler.reply(known.state, payload)
        const extra = options.metadata?.({ ...context, command: tag })
        const saved = yield* repository.save(entityId, known.version, decided, {
          metadata: { ...extra, causationId: commandId }
        }).pipe(
          Effect.tapError(() => Effect.sync(() => (hot = undefined))),
          Effect.mapError(fromStore)
        )
        const state = Aggregate.fold(aggregate, known.state, decided)
        remember(known.recent, commandId, saved.version)
        hot = {
          state,
          version: saved.version,
          position: saved.positions[saved.positions.length - 1] ?? known.position,
          snapshotVersion: saved.snapshot === "written" ? saved.version : known.snapshotVersion,
          recent: known.recent
        }
        return handler.reply(state, payload)
      })

    if (options.snapshotOnPassivation === true) {
      yield* Effect.addFinalizer(() =>
        Effect.suspend(() => {
          const last = hot
          const position = last?.position
          if (last === undefined || last.version <= last.snapshotVersion || position === undefined) {
            return Effect.void
          }
          const encoded = Aggregate.encodeState(aggregate, last.state)
          if (Result.isFailure(encoded)) {
            return Effect.logWarning(`Snapshot of ${entityType} ${cutId(entityId)} on passivation: ${encoded.failure}`)
          }
          return Effect.flatMap(DateTime.now, (createdAt) =>
            snapshots.save(
              new Snapshot.Snapshot({
                aggregateType: aggregate.type,
                aggregateId: entityId,
                version: last.version,
                schemaVersion: aggregate.schemaVersion,
                createdAt,
                metadata: Aggregate.snapshotMetadata(aggregate, position),
                state: encoded.success
              })
            )).pipe(
              Effect.catch((error) =>
                Effect.logWarning(`Snapshot of ${entityType} ${cutId(entityId)} on passivation: ${error.message}`)
              )
            )
        })
      )
    }

    const handlers: Record<string, (request: Entity.Request<Rpc.Any>) => Effect.Effect<unknown, unknown, unknown>> = {}
    for (const tag of entity.protocol.requests.keys()) {
      const handler = handlerOf[tag]
      if (handler !== undefined) handlers[tag] = serve(tag, handler)
    }
    return handlers
  })

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return entity.toLayer(build as any, {
    maxIdleTime: options.maxIdleTime,
    mailboxCapacity: options.mailboxCapacity
  })
}
