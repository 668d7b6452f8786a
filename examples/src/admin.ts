/**
 * The admin bin of the examples: the admin CLI mounted with the Order aggregate's registry.
 *
 *   pnpm admin -- stats                       # PG_URL, or the embedded Postgres when it is unset
 *   pnpm admin -- list Order order-42 --json
 *   pnpm admin -- verify --type Order --repair
 */
import { Cli } from "@effect-snapshots/admin"
import { SnapshotStrategy } from "@effect-snapshots/core"
import { Order } from "./Order.js"

export const registry: Cli.Registry = [
  Cli.register(Order, { strategy: SnapshotStrategy.everyNEvents(100) })
]

Cli.runMain(registry)
