/**
 * The aggregate the reliability suite drives: an account whose state carries an order-sensitive digest of
 * every event folded into it, so a lost, duplicated or reordered event always shows in the state. Every
 * event records the batch (`tx`) it was committed in, its index in the batch and the batch size, so a
 * half-written batch is visible in the stream.
 *
 * @since 0.1.0
 */
import { Aggregate, EventStore } from "@effect-snapshots/loader"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

const Tx = {
  /** The batch this event was committed in: unique per attempt of a command. */
  tx: Schema.String,
  index: Schema.Int,
  size: Schema.Int
}

/**
 * @since 0.1.0
 */
export const Deposited = Schema.TaggedStruct("Deposited", { amount: Schema.Int, ...Tx })

/**
 * @since 0.1.0
 */
export const Withdrawn = Schema.TaggedStruct("Withdrawn", { amount: Schema.Int, ...Tx })

/**
 * @since 0.1.0
 */
export const Noted = Schema.TaggedStruct("Noted", { text: Schema.String, ...Tx })

/**
 * @since 0.1.0
 */
export const Event = Schema.Union([Deposited, Withdrawn, Noted])

/**
 * @since 0.1.0
 */
export type Event = typeof Event.Type

/**
 * @since 0.1.0
 */
export const State = Schema.Struct({
  balance: Schema.Int,
  /** Events folded so far: equals the stream version when nothing was lost or duplicated. */
  events: Schema.Int,
  /** FNV-1a over the previous digest and each event, in order. */
  digest: Schema.String,
  /** The last few notes, newest last. */
  notes: Schema.Array(Schema.String),
  /** How many distinct batches were folded (a batch's events are contiguous). */
  batches: Schema.Int,
  lastTx: Schema.String
})

/**
 * @since 0.1.0
 */
export type State = typeof State.Type

const fnv = (seed: string, text: string): string => {
  let h = Number.parseInt(seed, 16) >>> 0
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h.toString(16).padStart(8, "0")
}

/**
 * The pure, immutable fold.
 *
 * @since 0.1.0
 */
export const evolve = (state: State, event: Event): State => {
  const detail = event._tag === "Noted" ? event.text : String(event.amount)
  const digest = fnv(state.digest, `${event._tag}|${event.tx}|${event.index}|${event.size}|${detail}`)
  const batches = event.tx === state.lastTx ? state.batches : state.batches + 1
  const base = { ...state, events: state.events + 1, digest, batches, lastTx: event.tx }
  switch (event._tag) {
    case "Deposited":
      return { ...base, balance: state.balance + event.amount }
    case "Withdrawn":
      return { ...base, balance: state.balance - event.amount }
    case "Noted":
      return { ...base, notes: [...state.notes, event.text].slice(-5) }
  }
}

/**
 * @since 0.1.0
 */
export const initial = (_id: string): State => ({
  balance: 0,
  events: 0,
  digest: "811c9dc5",
  notes: [],
  batches: 0,
  lastTx: ""
})

/**
 * @since 0.1.0
 */
export const Account = Aggregate.make({
  type: "Account",
  state: State,
  initial,
  events: Event,
  evolve
})

/**
 * A batch of `size` events for one transaction id, drawn from `random` (a uniform [0, 1) source).
 *
 * @since 0.1.0
 */
export const batch = (tx: string, size: number, random: () => number): Array<Event> =>
  Array.from({ length: size }, (_, index): Event => {
    const r = random()
    const amount = 1 + Math.floor(random() * 1000)
    if (r < 0.45) return { _tag: "Deposited", amount, tx, index, size }
    if (r < 0.8) return { _tag: "Withdrawn", amount, tx, index, size }
    return { _tag: "Noted", text: `note ${Math.floor(random() * 1e9).toString(36)} ✓ "q" 'q'`, tx, index, size }
  })

/**
 * What a full replay of one stream shows, computed straight from the EventStore (no repository involved).
 *
 * @since 0.1.0
 */
export interface Replay {
  readonly state: State
  readonly version: number
  /** Problems found in the stream: version gaps, undecodable events, incomplete or interleaved batches. */
  readonly problems: ReadonlyArray<string>
  /** The tx ids seen, in order (each once). */
  readonly txs: ReadonlyArray<string>
  /** The state after each version asked for in `at` (that the stream reached). */
  readonly states: ReadonlyMap<number, State>
}

/**
 * Replay a stream from the EventStore with the pure fold, checking it on the way: versions 1..n contiguous,
 * every event decodes, every batch is complete and contiguous (no half-written batch), no batch twice.
 *
 * @since 0.1.0
 */
export const replay = Effect.fnUntraced(function*(id: string, at: ReadonlySet<number> = new Set()) {
  const store = yield* EventStore.EventStore
  const rows = yield* Stream.runCollect(store.read(Account.type, id))
  const problems: Array<string> = []
  const txs: Array<string> = []
  const seen = new Set<string>()
  const states = new Map<number, State>()
  let state = initial(id)
  let version = 0
  let open: { tx: string; size: number; next: number } | undefined
  for (const row of rows) {
    if (row.version !== version + 1) problems.push(`version ${row.version} follows ${version}`)
    version = row.version
    const decoded = Aggregate.decodeEvent(Account, row)
    if (Result.isFailure(decoded)) {
      problems.push(`version ${row.version}: ${decoded.failure.message}`)
      continue
    }
    const event = decoded.success
    if (open !== undefined && open.tx !== event.tx) {
      problems.push(`batch ${open.tx} stopped at ${open.next}/${open.size} (version ${row.version})`)
      open = undefined
    }
    if (open === undefined) {
      if (seen.has(event.tx)) problems.push(`batch ${event.tx} appears twice`)
      seen.add(event.tx)
      txs.push(event.tx)
      open = { tx: event.tx, size: event.size, next: 0 }
    }
    if (event.index !== open.next || event.size !== open.size) {
      problems.push(`batch ${event.tx}: event ${event.index}/${event.size} where ${open.next} was expected`)
    }
    open.next = event.index + 1
    if (open.next === open.size) open = undefined
    state = evolve(state, event)
    if (at.has(row.version)) states.set(row.version, state)
  }
  if (open !== undefined) problems.push(`batch ${open.tx} is incomplete: ${open.next}/${open.size}`)
  const result: Replay = { state, version, problems, txs, states }
  return result
})

/**
 * Whether two states are the same (compared by their encoded JSON).
 *
 * @since 0.1.0
 */
export const sameState = (a: State, b: State): boolean => canonical(a) === canonical(b)

const stateKeys = Object.keys(State.fields).sort()

/**
 * A state as JSON with its keys in a fixed order.
 *
 * @since 0.1.0
 */
export const canonical = (state: State): string => JSON.stringify(state, stateKeys)
