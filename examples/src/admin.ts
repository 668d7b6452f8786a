/**
 * The admin bin of the examples: the admin CLI mounted with the Order aggregate's registry, on PG_URL (the CLI's
 * own connection) or, when it is unset, on the embedded Postgres in the demo's data folder (see database.ts).
 *
 *   pnpm admin -- stats
 *   pnpm admin -- list Order order-42 --json
 *   pnpm admin -- verify --type Order --repair
 */
import { Cli } from "@effect-snapshots/admin"
import { SnapshotStrategy } from "@effect-snapshots/core"
import * as Database from "./database.js"
import { Order } from "./Order.js"

export const registry: Cli.Registry = [
  Cli.register(Order, { strategy: SnapshotStrategy.everyNEvents(100) })
]

// On PG_URL the CLI's own connection, whose connects and statements `--timeout` bounds; otherwise the embedded one.
if (!Database.hasServer()) console.error(`Using ${Database.describe()}`)
Cli.runMain(registry, Database.hasServer() ? {} : { connection: Database.layer() })
