/**
 * The unit of work on SQL: a unit is `sql.withTransaction` on the application's `SqlClient` (a savepoint when
 * nested), and its after-commit actions run once the outermost unit has committed. See `UnitOfWork`.
 *
 * @since 0.2.0
 */
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as SqlClient from "effect/sql/SqlClient"
import * as internal from "./internal/unitOfWork.js"
import type { UnitOfWork, UnitOfWorkService } from "./UnitOfWork.js"

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
