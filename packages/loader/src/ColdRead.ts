/**
 * The repository's optional one-go cold read: the newest snapshot and the first page of events after it, read
 * together. `EventSourcedRepository.make` finds a `ColdRead` in context with `Effect.serviceOption` and asks it
 * for the very stores the repository was given; without one, or when it answers none, the repository calls the
 * two stores. `@effect-snapshots/sql`'s `SqlEventStore` layers provide one that answers, in one statement, for
 * its own event store and an undecorated `SqlSnapshotStore` on the same client.
 *
 * @since 1.1.0
 */
import * as internal from "./internal/coldRead.js"

/**
 * What a cold read answers: the snapshot as `load` would have, its state's size, and the first page of events.
 *
 * @since 1.1.0
 * @category models
 */
export type ColdRows = internal.ColdRows

/**
 * The read of one aggregate (type, id, page size); none when the key is one the stores refuse.
 *
 * @since 1.1.0
 * @category models
 */
export type Read = internal.Read

/**
 * @since 1.1.0
 * @category models
 */
export type ColdReadService = internal.ColdReadService

/**
 * The optional service the repository looks for.
 *
 * @since 1.1.0
 * @category services
 */
export const ColdRead: typeof internal.ColdRead = internal.ColdRead

/**
 * @since 1.1.0
 * @category services
 */
export type ColdRead = internal.ColdRead
