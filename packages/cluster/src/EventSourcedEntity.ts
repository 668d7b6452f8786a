/**
 * An event-sourced entity on `effect/cluster`: one owner per aggregate across the runners, its state hot in
 * memory, every command's events appended by the repository with the expected version before the reply goes
 * out, and reactivation — first message, after idle passivation, after a shard moved or a runner died — from the
 * latest snapshot and the tail of events.
 *
 * Guarantees (see the package README for what holds when a runner dies):
 * - A reply is sent only after the command's events are committed; events decided on a stale state (an owner
 *   that lost its shard) are never committed: the append at the expected version refuses them.
 * - The event store's optimistic concurrency is the fence. An owner that lost its shard fails its next append
 *   with `EntityError` `OwnershipLost`, drops its state and reloads on the next command; it never overwrites or
 *   interleaves another owner's events. It does not retry on its own: the command was decided on a state that
 *   is gone, and the cluster routes the caller's retry to the current owner.
 * - A command delivered twice (the cluster resends a request when its runner dies before the reply) is applied
 *   once: the entity writes the command's id (the cluster's request id, the command's tag and a hash of its
 *   payload) as the events' `causationId` and remembers the last
 *   `deduplicationWindow` of them, also across reactivation (read back from the stream's tail). The second
 *   delivery is answered with `reply` on the current state, without deciding again.
 *
 * @since 1.0.0
 */
import type { EventSourcedRepository } from "@effect-snapshots/loader"
import type * as Aggregate from "@effect-snapshots/loader/Aggregate"
import type { EventStore } from "@effect-snapshots/loader/EventStore"
import type { SnapshotStore } from "@effect-snapshots/store/SnapshotStore"
import type * as Entity from "effect/cluster/Entity"
import type * as Sharding from "effect/cluster/Sharding"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Rpc from "effect/rpc/Rpc"
import type { EntityError } from "./EntityError.js"
import * as internal from "./internal/entity.js"

export {
  /**
   * @since 1.0.0
   * @category errors
   */
  EntityError
} from "./EntityError.js"

/**
 * What a handler is told besides the state and the payload.
 *
 * @since 1.0.0
 * @category models
 */
export interface CommandContext {
  readonly entityId: string
  /** The stream's version the state is at: the events decided now get `version + 1` onwards. */
  readonly version: number
  /** The cluster's request id, the command's tag and a hash of its payload: the events' `causationId`. */
  readonly commandId: string
}

/**
 * One command: `decide` the events from the state (none for a query, or a domain error), then `reply` on the
 * state after them, once they are committed.
 *
 * @since 1.0.0
 * @category models
 */
export interface Handler<S, E, P, A, Err, R> {
  readonly decide?: (state: S, payload: P, context: CommandContext) => Effect.Effect<ReadonlyArray<E>, Err, R>
  readonly reply: (state: S, payload: P) => A
}

/**
 * A handler for every command of the entity's protocol. A command whose `error` Schema does not include
 * `EntityError` gets a type error here.
 *
 * @since 1.0.0
 * @category models
 */
export type Handlers<Rpcs extends Rpc.Any, S, E, R> = {
  readonly [Current in Rpcs as Current["_tag"]]: EntityError extends Rpc.Error<Current> ? Handler<
      S,
      E,
      Rpc.Payload<Current>,
      Rpc.Success<Current>,
      Rpc.Error<Current>,
      R
    >
    : "add EntityError to this command's error Schema"
}

/**
 * How an entity came back to memory, for metrics and tests: `source` is the repository's (`snapshot`: from a
 * snapshot and its tail; `replay`: every event read; `cache`: this runner's cache of known states and the tail;
 * `new`: no events yet).
 *
 * @since 1.0.0
 * @category models
 */
export interface Activation {
  readonly entityType: string
  readonly entityId: string
  readonly version: number
  readonly source: "snapshot" | "replay" | "cache" | "new"
  readonly snapshotVersion: Option.Option<number>
  readonly replayed: number
}

/**
 * The repository the entity loads and appends through: an `EventSourcedRepository.Tag` (a service key that
 * carries its aggregate).
 *
 * @since 1.0.0
 * @category models
 */
export type Repository<Self, S, SI, E extends { readonly _tag: string }, EI> =
  & Context.Key<Self, EventSourcedRepository.EventSourcedRepository<S, E>>
  & { readonly aggregate: Aggregate.Aggregate<S, SI, E, EI> }

/**
 * @since 1.0.0
 * @category models
 */
export declare namespace Repository {
  /**
   * Any repository key: the bound of an entity's repository.
   *
   * @since 1.0.0
   * @category models
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  export type Any = Repository<any, any, any, any, any>

  /**
   * The state of a repository's aggregate.
   *
   * @since 1.0.0
   * @category models
   */
  export type State<Repo extends Any> = Aggregate.Aggregate.State<Repo["aggregate"]>

  /**
   * The events of a repository's aggregate.
   *
   * @since 1.0.0
   * @category models
   */
  export type Event<Repo extends Any> = Aggregate.Aggregate.Event<Repo["aggregate"]>
}

/**
 * @since 1.0.0
 * @category models
 */
export interface Options {
  /** Write a snapshot of the state when the entity passivates (idle, shard moved, runner stopping). Default false. */
  readonly snapshotOnPassivation?: boolean | undefined
  /**
   * How many of the latest command ids an entity remembers to answer a redelivered command without applying it
   * again (read back from the stream's tail on activation: one more query). 0 turns it off. Default 100.
   */
  readonly deduplicationWindow?: number | undefined
  /** Extra metadata stored with every command's events (the `causationId` is the entity's own). */
  readonly metadata?:
    | ((context: CommandContext & { readonly command: string }) => EventSourcedRepository.EventMetadata)
    | undefined
  /** Called after every activation (metrics, tests). */
  readonly onActivation?: ((activation: Activation) => Effect.Effect<void>) | undefined
  /** Passivate after this long without a message (the cluster's `entityMaxIdleTime` by default). */
  readonly maxIdleTime?: Duration.Input | undefined
  /** The entity mailbox's capacity (the cluster's `entityMailboxCapacity` by default). */
  readonly mailboxCapacity?: number | "unbounded" | undefined
}

/**
 * An entity type whose behaviour is the repository's aggregate. `toLayer` registers it with the cluster: it
 * serves the commands one at a time per entity id, from the state in memory, appending each command's events
 * through the repository before replying.
 *
 * The layer needs the repository, the `EventStore` and the `SnapshotStore` it runs on, and `Sharding` (a runner
 * layer in production, `TestCluster.layer` in tests).
 *
 * @since 1.0.0
 * @category models
 */
export interface EventSourcedEntity<Type extends string, Rpcs extends Rpc.Any, Repo extends Repository.Any> {
  readonly entity: Entity.Entity<Type, Rpcs>
  readonly repository: Repo
  /** The handlers typed on their own (to share them between layers); the identity. */
  readonly of: <R = never>(
    handlers: Handlers<Rpcs, Repository.State<Repo>, Repository.Event<Repo>, R>
  ) => Handlers<Rpcs, Repository.State<Repo>, Repository.Event<Repo>, R>
  readonly toLayer: <R = never>(
    handlers: Handlers<Rpcs, Repository.State<Repo>, Repository.Event<Repo>, R>,
    options?: Options
  ) => Layer.Layer<
    never,
    never,
    | Repo["Identifier"]
    | EventStore
    | SnapshotStore
    | Sharding.Sharding
    | Exclude<R, Entity.CurrentAddress>
    | Rpc.ServicesServer<Rpcs>
    | Rpc.ServicesClient<Rpcs>
    | Rpc.Middleware<Rpcs>
  >
}

/**
 * Pair an entity type (its commands as Rpcs with Schemas) with the repository of its aggregate.
 *
 * @since 1.0.0
 * @category constructors
 */
export const make = <Type extends string, Rpcs extends Rpc.Any, Repo extends Repository.Any>(
  entity: Entity.Entity<Type, Rpcs>,
  repository: Repo
): EventSourcedEntity<Type, Rpcs, Repo> => ({
  entity,
  repository,
  of: (handlers) => handlers,
  toLayer: (handlers, options) => internal.layer(entity, repository, handlers, options ?? {})
})
