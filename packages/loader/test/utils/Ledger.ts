/**
 * A small test aggregate whose state JSON cannot hold as is (BigDecimal, Date, Option) and whose fold is
 * order-sensitive (a running checksum), so that a wrong snapshot or a wrong tail shows in the state.
 */
import { Aggregate } from "@effect-snapshots/loader"
import * as BigDecimal from "effect/BigDecimal"
import * as FastCheck from "effect/FastCheck"
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
export const LedgerEvent = Schema.Union(Opened, Deposited, Withdrawn, Tagged)
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

export const encode = (state: LedgerState): string => JSON.stringify(Schema.encodeSync(LedgerState)(state))

// -----------------------------------------------------------------------------------------------------------
// arbitraries (effect/FastCheck: the fast-check that @effect/vitest runs)
// -----------------------------------------------------------------------------------------------------------

const amount = FastCheck.tuple(FastCheck.bigInt({ min: 0n, max: 10n ** 12n }), FastCheck.integer({ min: 0, max: 6 }))
  .map(([value, scale]) => BigDecimal.make(value, scale))

export const ledgerEvent: FastCheck.Arbitrary<LedgerEvent> = FastCheck.oneof(
  FastCheck.integer({ min: 0, max: 4_000_000_000_000 }).map((ms) => Opened.make({ at: new Date(ms) })),
  FastCheck.record({ amount, note: FastCheck.string({ maxLength: 8 }) }).map((e) => Deposited.make(e)),
  amount.map((a) => Withdrawn.make({ amount: a })),
  FastCheck.option(FastCheck.string({ maxLength: 5 }), { nil: undefined }).map((tag) =>
    Tagged.make({ tag: Option.fromNullable(tag) })
  )
)

/** A history: batches of 1..maxBatch events. */
export const history = (options: { readonly maxBatches: number; readonly maxBatch: number }) =>
  FastCheck.array(FastCheck.array(ledgerEvent, { minLength: 1, maxLength: options.maxBatch }), {
    minLength: 1,
    maxLength: options.maxBatches
  })
