/**
 * A decoder of the Order state written by hand: what a decoder compiler could emit for that Schema at best (the
 * same checks, Schema's own BigDecimal parsing, one object per struct), to compare with Effect 4's Schema decoder
 * (JIT-compiled) that the library uses. Not a decoder for the library: it knows one Schema.
 */
import * as BigDecimal from "effect/BigDecimal"
import * as DateTime from "effect/DateTime"
import * as Option from "effect/Option"
import type * as OrderDomain from "../OrderDomain.js"

const bigDecimal = (u: unknown): BigDecimal.BigDecimal => {
  const decimal = typeof u === "string" ? BigDecimal.fromString(u) : Option.none()
  if (Option.isNone(decimal)) throw new Error("not a decimal string")
  return decimal.value
}

const int = (u: unknown): number => {
  if (typeof u !== "number" || !Number.isSafeInteger(u)) throw new Error("not an integer")
  return u
}

const string = (u: unknown): string => {
  if (typeof u !== "string") throw new Error("not a string")
  return u
}

const object = (u: unknown): Record<string, unknown> => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) throw new Error("not an object")
  return u as Record<string, unknown>
}

const status = (u: unknown): OrderDomain.OrderStatus => {
  if (u !== "Empty" && u !== "Open" && u !== "Submitted") throw new Error("not a status")
  return u
}

/** The Order state from its JSON (as `JSON.parse` answers it); throws on anything else. */
export const decodeOrderState = (u: unknown): OrderDomain.OrderState => {
  const o = object(u)
  if (!Array.isArray(o.lines)) throw new Error("lines: not an array")
  const encoded: ReadonlyArray<unknown> = o.lines
  const lines = new Array<OrderDomain.OrderLine>(encoded.length)
  for (let i = 0; i < encoded.length; i++) {
    const line = object(encoded[i])
    lines[i] = { sku: string(line.sku), quantity: int(line.quantity), unitPrice: bigDecimal(line.unitPrice) }
  }
  return {
    id: string(o.id),
    status: status(o.status),
    customerId: o.customerId === null ? Option.none() : Option.some(string(o.customerId)),
    lines,
    itemCount: int(o.itemCount),
    total: bigDecimal(o.total),
    submittedAt: o.submittedAt === null ? Option.none() : Option.some(DateTime.makeUnsafe(string(o.submittedAt)))
  }
}

/** An Order event from its JSON payload, by hand as `decodeOrderState`; throws on anything else. */
export const decodeOrderEvent = (u: unknown): OrderDomain.OrderEvent => {
  const o = object(u)
  switch (o._tag) {
    case "ItemAdded": {
      const sku = string(o.sku)
      const quantity = int(o.quantity)
      if (sku.length === 0 || quantity <= 0) throw new Error("not an item")
      return { _tag: "ItemAdded", sku, quantity, unitPrice: bigDecimal(o.unitPrice) }
    }
    case "OrderCreated": {
      const customerId = string(o.customerId)
      if (customerId.length === 0) throw new Error("no customer")
      return { _tag: "OrderCreated", customerId }
    }
    case "OrderSubmitted":
      return { _tag: "OrderSubmitted", submittedAt: DateTime.makeUnsafe(string(o.submittedAt)) }
    default:
      throw new Error("not an Order event")
  }
}
