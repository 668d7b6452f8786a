/**
 * The unit of work on SQL: a unit is `sql.withTransaction` on the application's `SqlClient` (a savepoint when
 * nested), and its after-commit actions run once the outermost unit has committed. See `UnitOfWork`.
 *
 * A dropped connection is a typed `UnitOfWorkError`, never a defect: lost before COMMIT, the unit is
 * `RolledBack`; lost during COMMIT, the unit asks the server (`pg_xact_status`, on another connection) whether
 * its transaction committed, and succeeds, is `RolledBack`, or is `CommitOutcomeUnknown` when the server cannot
 * tell yet. For that the outermost unit reads its transaction id right before COMMIT (one short statement).
 * PostgreSQL 13 or later.
 *
 * @since 0.2.0
 */
import type { UnitOfWork, UnitOfWorkService } from "@effect-snapshots/store/UnitOfWork"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as SqlClient from "effect/sql/SqlClient"
import * as internal from "./internal/sqlUnitOfWork.js"

/**
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<UnitOfWorkService, never, SqlClient.SqlClient> = internal.makeSql

/**
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<UnitOfWork, never, SqlClient.SqlClient> = internal.layerSql
