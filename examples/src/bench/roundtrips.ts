/**
 * Counting round trips and statements on the wire. Effect 4's Postgres driver (`@effect/sql-pg` 4) speaks the
 * protocol itself and the bare baselines use `pg`; both write whole frontend messages to a `net.Socket`, so
 * the count reads the messages every client socket of this process writes:
 *
 * - round trips: Sync (end of an extended-protocol query), Flush (a cursor asking for more rows) and
 *   simple-protocol Query; after each the client waits for the server.
 * - statements: Execute and simple-protocol Query; a query sent with the extended protocol, prepared or not,
 *   is one Execute.
 *
 * Sockets a server in this process accepted (the embedded PGlite's) are not counted, nor writes that are not
 * a sequence of whole messages (the startup and SSL requests, which carry no type byte).
 */
import * as net from "node:net"

let roundTrips = 0
let statements = 0
let installed = false

const Sync = 0x53 // "S"
const Flush = 0x48 // "H"
const Query = 0x51 // "Q"
const Execute = 0x45 // "E"

/** Count the messages of one write; nothing when the bytes are not a sequence of whole frontend messages. */
const count = (chunk: unknown): void => {
  if (!(chunk instanceof Uint8Array)) return
  let trips = 0
  let executed = 0
  let offset = 0
  while (offset + 5 <= chunk.length) {
    const type = chunk[offset]!
    const length = ((chunk[offset + 1]! << 24) | (chunk[offset + 2]! << 16) | (chunk[offset + 3]! << 8) |
      chunk[offset + 4]!) >>> 0
    // Frontend message types are ASCII letters; the length counts itself.
    if (type < 0x41 || type > 0x7a || length < 4) return
    if (type === Sync || type === Flush || type === Query) trips++
    if (type === Execute || type === Query) executed++
    offset += 1 + length
  }
  if (offset !== chunk.length) return
  roundTrips += trips
  statements += executed
}

export const install = (): void => {
  if (installed) return
  installed = true
  const proto = net.Socket.prototype as unknown as {
    write: (this: net.Socket, ...args: Array<unknown>) => boolean
  }
  const original = proto.write
  proto.write = function(this: net.Socket, ...args: Array<unknown>) {
    // An accepted socket (PGlite's side of the loopback) has its server set.
    const accepted = this as unknown as { readonly server?: unknown; readonly _server?: unknown }
    if (accepted.server == null && accepted._server == null) count(args[0])
    return original.apply(this, args)
  }
}

/** Round trips and statements made while `f` ran (nothing else may use the database meanwhile). */
export const measure = async <A>(
  f: () => Promise<A>
): Promise<{ readonly value: A; readonly roundTrips: number; readonly statements: number }> => {
  install()
  const before = { roundTrips, statements }
  const value = await f()
  return { value, roundTrips: roundTrips - before.roundTrips, statements: statements - before.statements }
}
