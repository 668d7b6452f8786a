/**
 * A small test aggregate whose state JSON cannot hold as is (BigDecimal, Date, Option) and whose fold is
 * order-sensitive (a running checksum), so that a wrong snapshot or a wrong tail shows in the state.
 */
import { Aggregate } from "@effect-snapshots/loader"
import * as Arbitrary from "effect/Arbitrary"
import type * as Arr from "effect/Array"
import * as BigDecimal from "effect/BigDecimal"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

export const LedgerState = Schema.Struct({
  id: Schema.String,
  balance: Schema.BigDecimal,
  entries: Schema.Number,
  checksum: Schema.Number,
  openedAt: Schema.OptionFromNullOr(Schema.Date),
  lastNote: Schema.Option(Schema.String),
  tags: Schema.Array(Schema.String)
})
export type LedgerState = typeof LedgerState.Type

export const Opened = Schema.TaggedStruct("Opened", { at: Schema.Date })
export const Deposited = Schema.TaggedStruct("Deposited", { amount: Schema.BigDecimal, note: Schema.String })
export const Withdrawn = Schema.TaggedStruct("Withdrawn", { amount: Schema.BigDecimal })
export const Tagged = Schema.TaggedStruct("Tagged", { tag: Schema.Option(Schema.String) })
export const LedgerEvent = Schema.Union([Opened, Deposited, Withdrawn, Tagged])
export type LedgerEvent = typeof LedgerEvent.Type

const mix = (checksum: number, value: string): number => {
  let h = checksum
  for (let i = 0; i < value.length; i++) h = (Math.imul(h, 31) + value.charCodeAt(i)) | 0
  return h
}

export const initial = (id: string): LedgerState => ({
  id,
  balance: BigDecimal.fromBigInt(0n),
  entries: 0,
  checksum: 17,
  openedAt: Option.none(),
  lastNote: Option.none(),
  tags: []
})

export const evolve = (state: LedgerState, event: LedgerEvent): LedgerState => {
  const entries = state.entries + 1
  switch (event._tag) {
    case "Opened":
      return {
        ...state,
        entries,
        openedAt: Option.some(event.at),
        checksum: mix(state.checksum, `o${event.at.getTime()}`)
      }
    case "Deposited":
      return {
        ...state,
        entries,
        balance: BigDecimal.sum(state.balance, event.amount),
        lastNote: Option.some(event.note),
        checksum: mix(state.checksum, `d${BigDecimal.format(event.amount)}${event.note}`)
      }
    case "Withdrawn":
      return {
        ...state,
        entries,
        balance: BigDecimal.subtract(state.balance, event.amount),
        checksum: mix(state.checksum, `w${BigDecimal.format(event.amount)}`)
      }
    case "Tagged":
      return {
        ...state,
        entries,
        tags: Option.isSome(event.tag) ? [...state.tags, event.tag.value] : state.tags,
        checksum: mix(state.checksum, `t${Option.getOrElse(event.tag, () => "-")}`)
      }
  }
}

export const Ledger = Aggregate.make({
  type: "Ledger",
  state: LedgerState,
  initial,
  events: LedgerEvent,
  evolve
})

/** The state a full replay of `events` gives, encoded: what every load must reproduce exactly. */
export const expected = (id: string, events: ReadonlyArray<LedgerEvent>): string =>
  encode(Aggregate.fold(Ledger, initial(id), events))

/** The state's stored JSON form (`Schema.toCodecJson`, as the repository writes it into a snapshot). */
export const LedgerStateJson = Schema.toCodecJson(LedgerState)

export const encode = (state: LedgerState): string => JSON.stringify(Schema.encodeSync(LedgerStateJson)(state))

// -----------------------------------------------------------------------------------------------------------
// arbitraries (effect/Arbitrary: what @effect/vitest's `prop` runs)
// -----------------------------------------------------------------------------------------------------------

/** An integer in [min, max]. */
export const integer = (min: number, max: number): Arbitrary.Arbitrary<number> =>
  Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: min, maximum: max })))

/** One of the arbitraries, each as likely (list one twice to weigh it double). */
export const oneOf = <A>(...arbitraries: Arr.NonEmptyReadonlyArray<Arbitrary.Arbitrary<A>>): Arbitrary.Arbitrary<A> =>
  Arbitrary.flatMap(integer(0, arbitraries.length - 1), (i) => arbitraries[i]!)

/** One of the values. */
export const constantFrom = <const A>(...values: Arr.NonEmptyReadonlyArray<A>): Arbitrary.Arbitrary<A> =>
  Arbitrary.map(integer(0, values.length - 1), (i) => values[i]!)

/**
 * A string of at most `maxLength` printable ASCII characters (what fast-check's `string()` gave the Effect 3
 * suite; a NUL, which the event stores refuse, is not in it).
 */
export const string = (maxLength: number): Arbitrary.Arbitrary<string> =>
  Arbitrary.map(
    Arbitrary.array(integer(0x20, 0x7e), { maxLength }),
    (codes) => String.fromCharCode(...codes)
  )

const amount = Arbitrary.map(
  Arbitrary.all([
    Arbitrary.schema(Schema.BigInt.check(Schema.isBetweenBigInt({ minimum: 0n, maximum: 10n ** 12n }))),
    integer(0, 6)
  ]),
  ([value, scale]) => BigDecimal.make(value, scale)
)

export const ledgerEvent: Arbitrary.Arbitrary<LedgerEvent> = oneOf<LedgerEvent>(
  Arbitrary.map(integer(0, 4_000_000_000_000), (ms) => Opened.make({ at: new Date(ms) })),
  Arbitrary.map(Arbitrary.all({ amount, note: string(8) }), (e) => Deposited.make(e)),
  Arbitrary.map(amount, (a) => Withdrawn.make({ amount: a })),
  Arbitrary.map(
    oneOf(Arbitrary.Constant(Option.none<string>()), Arbitrary.map(string(5), Option.some)),
    (tag) => Tagged.make({ tag })
  )
)

/** A history: batches of 1..maxBatch events. */
export const history = (options: { readonly maxBatches: number; readonly maxBatch: number }) =>
  Arbitrary.array(Arbitrary.array(ledgerEvent, { minLength: 1, maxLength: options.maxBatch }), {
    minLength: 1,
    maxLength: options.maxBatches
  })
