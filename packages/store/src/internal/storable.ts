/**
 * The storable-JSON and key policy; see `../Storable.ts` for the policy itself.
 *
 * @internal
 */

/** @internal */
export const maxAggregateTypeBytes = 256
/** @internal */
export const maxAggregateIdBytes = 2048
/** @internal */
export const maxDepth = 512
/** @internal */
export const maxShownLength = 200

/** A user-supplied string for a message or a log annotation: JSON-quoted, cut to 200 characters. @internal */
export const show = (value: string): string =>
  value.length > maxShownLength
    ? `${JSON.stringify(value.slice(0, maxShownLength))}… (${value.length} characters)`
    : JSON.stringify(value)

// `String.prototype.isWellFormed` (ES2024, Node >= 20): native, far cheaper than a regular expression.
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed()

/** Why a string cannot be stored (NUL, lone surrogate), or undefined. @internal */
export const characterProblem = (s: string): string | undefined =>
  s.includes("\u0000")
    ? "contains a NUL character (\\u0000)"
    : isWellFormed(s)
    ? undefined
    : "contains a lone UTF-16 surrogate"

/** @internal */
export const nameProblem = (what: string, value: unknown, maxBytes?: number): string | undefined => {
  if (typeof value !== "string") return `${what} must be a string, got ${typeof value}`
  if (value.length === 0) return `${what} must not be empty`
  const characters = characterProblem(value)
  // A lone surrogate has no UTF-8 form: a driver would store U+FFFD instead and the key would change.
  if (characters !== undefined) return `${what} ${show(value)} ${characters}`
  if (maxBytes !== undefined && value.length * 3 > maxBytes && Buffer.byteLength(value, "utf8") > maxBytes) {
    return `${what} ${show(value)} is longer than ${maxBytes} UTF-8 bytes`
  }
  return undefined
}

/** @internal */
export const typeProblem = (aggregateType: unknown): string | undefined =>
  nameProblem("aggregateType", aggregateType, maxAggregateTypeBytes)

/** @internal */
export const keyProblem = (aggregateType: unknown, aggregateId: unknown): string | undefined =>
  typeProblem(aggregateType) ?? nameProblem("aggregateId", aggregateId, maxAggregateIdBytes)

type Path = Array<string | number>

const pathString = (path: Path): string =>
  path.length === 0
    ? ""
    : ` at ${
      path.map((p) => typeof p === "number" ? `[${p}]` : p.length > maxShownLength ? `[${show(p)}]` : `.${p}`).join("")
    }`

const describeValue = (value: unknown): string => {
  if (value === undefined) return "undefined"
  if (typeof value === "number") return String(value)
  if (typeof value === "object" && value !== null) {
    const ctor = (value as { constructor?: { name?: unknown } }).constructor
    return typeof ctor?.name === "string" && ctor.name !== "" ? `a ${ctor.name}` : "an object with a prototype"
  }
  return `a ${typeof value}`
}

class Problem {
  constructor(readonly path: Path, readonly reason: string) {}
}

const tooDeep = new Problem([], `nested more than ${maxDepth} levels deep`)

const primitiveProblem = (value: unknown): Problem | undefined => {
  switch (typeof value) {
    case "string": {
      const problem = characterProblem(value)
      return problem === undefined ? undefined : new Problem([], `a string ${problem}`)
    }
    case "number":
      return Number.isFinite(value) ? undefined : new Problem([], `${String(value)} is not a JSON number`)
    case "boolean":
      return undefined
    default:
      return new Problem([], `${describeValue(value)} is not JSON`)
  }
}

/**
 * One pass over the value, without cycle tracking (no Set operation per object on a 20 MB state): a cycle
 * shows as a nesting deeper than `maxDepth`; only then does `cyclic` look again to tell the two apart.
 */
const walk = (value: unknown, depth: number): Problem | undefined => {
  if (typeof value !== "object") return primitiveProblem(value)
  if (value === null) return undefined
  if (depth >= maxDepth) return tooDeep
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      // JSON would turn it into null: the value would change.
      const problem = item === undefined ? new Problem([], "undefined is not JSON") : walk(item, depth + 1)
      if (problem !== undefined) {
        if (problem !== tooDeep) problem.path.unshift(i)
        return problem
      }
    }
    return undefined
  }
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) {
    return new Problem([], `${describeValue(value)} is not a plain object`)
  }
  for (const key in value) {
    const keyProblem = characterProblem(key)
    if (keyProblem !== undefined) return new Problem([key], `a key ${keyProblem}`)
    const item: unknown = (value as Record<string, unknown>)[key]
    // An undefined property is left out, as JSON.stringify leaves it out (an optional field's encoding).
    if (item === undefined) continue
    const problem = walk(item, depth + 1)
    if (problem !== undefined) {
      if (problem !== tooDeep) problem.path.unshift(key)
      return problem
    }
  }
  return undefined
}

/** The path to a cycle (an object that contains itself), or undefined. Runs only after `walk` hit the depth. */
const cyclic = (value: unknown, ancestors: Set<object>, path: Path, depth: number): Path | undefined => {
  if (typeof value !== "object" || value === null || depth > maxDepth) return undefined
  if (ancestors.has(value)) return path
  ancestors.add(value)
  const entries: Array<[string | number, unknown]> = Array.isArray(value)
    ? value.map((item, i) => [i, item])
    : Object.entries(value)
  for (const [key, item] of entries) {
    path.push(key)
    const found = cyclic(item, ancestors, path, depth + 1)
    if (found !== undefined) return found
    path.pop()
  }
  ancestors.delete(value)
  return undefined
}

/** Why `value` is not storable JSON (a reason and a path), or undefined. @internal */
export const jsonProblem = (value: unknown): string | undefined => {
  if (value === undefined) return "undefined is not JSON"
  const problem = walk(value, 0)
  if (problem === undefined) return undefined
  if (problem === tooDeep) {
    const cycle = cyclic(value, new Set(), [], 0)
    return cycle === undefined ? problem.reason : `a cycle (an object contains itself)${pathString(cycle)}`
  }
  return `${problem.reason}${pathString(problem.path)}`
}

/** @internal */
export const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** Metadata: a plain object of storable JSON. @internal */
export const objectProblem = (value: unknown): string | undefined =>
  isPlainObject(value) ? jsonProblem(value) : "must be a plain JSON object"

/** The JSON text of values `toJson` checked (objects only: a primitive is cheap to check and stringify). */
const checkedText = new WeakMap<object, string>()

/**
 * Why `value` is not storable JSON, or its JSON text: one walk and one `JSON.stringify`. The text of an object
 * is remembered, so that a store saving this same object next reuses it (`checkedJson`). @internal
 */
export const toJson = (value: unknown): { readonly problem: string } | { readonly text: string } => {
  const problem = jsonProblem(value)
  if (problem !== undefined) return { problem }
  const text = JSON.stringify(value)
  if (typeof value === "object" && value !== null) checkedText.set(value, text)
  return { text }
}

/** The text `toJson` answered for this very object, if it did. @internal */
export const checkedJson = (value: unknown): string | undefined =>
  typeof value === "object" && value !== null ? checkedText.get(value) : undefined
