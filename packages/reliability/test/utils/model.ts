import { Account } from "@effect-snapshots/reliability"

/**
 * The expected history of each aggregate, built from what `update`/`save` reported as committed (never
 * read back from a store): the oracle that loads are compared with.
 */
export class Model {
  private readonly batches = new Map<string, Map<number, ReadonlyArray<Account.Event>>>()

  /** Record a committed batch whose last event got `version`. */
  commit(id: string, version: number, events: ReadonlyArray<Account.Event>): void {
    let byVersion = this.batches.get(id)
    if (byVersion === undefined) {
      byVersion = new Map()
      this.batches.set(id, byVersion)
    }
    const first = version - events.length + 1
    events.forEach((event, i) => {
      if (byVersion.has(first + i)) throw new Error(`Model: ${id} version ${first + i} committed twice`)
      byVersion.set(first + i, [event])
    })
  }

  ids(): ReadonlyArray<string> {
    return [...this.batches.keys()]
  }

  /** The state and version of a full replay of what was committed; problems when versions have gaps. */
  expected(id: string): { readonly state: Account.State; readonly version: number; readonly gaps: number } {
    const byVersion = this.batches.get(id) ?? new Map<number, ReadonlyArray<Account.Event>>()
    let state = Account.initial(id)
    let gaps = 0
    const versions = [...byVersion.keys()].sort((a, b) => a - b)
    versions.forEach((v, i) => {
      if (v !== i + 1) gaps++
      for (const event of byVersion.get(v)!) state = Account.evolve(state, event)
    })
    return { state, version: versions.length, gaps }
  }
}
