import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

/**
 * Progress of long work, on stderr (stdout stays the command's output): a bar redrawn in place on a terminal,
 * otherwise a line at most every `everyMillis` and a last one when done.
 */
export interface Progress {
  readonly advance: (n: number) => Effect.Effect<void>
  readonly done: Effect.Effect<void>
}

export interface ProgressOptions {
  readonly label: string
  /** The amount of work, when known. */
  readonly total: number | undefined
  readonly enabled: boolean
  readonly everyMillis?: number | undefined
}

const width = 30

const render = (label: string, done: number, total: number | undefined, rate: number, bar: boolean): string => {
  const perSecond = `${rate >= 10 ? Math.round(rate) : rate.toFixed(1)}/s`
  if (total === undefined || total <= 0) return `${label}: ${done} (${perSecond})`
  const share = Math.min(1, done / total)
  const percent = `${Math.floor(share * 100)}%`
  const eta = rate > 0 && done < total ? `, ETA ${Math.ceil((total - done) / rate)} s` : ""
  if (!bar) return `${label}: ${done}/${total} (${percent}, ${perSecond}${eta})`
  const filled = Math.round(share * width)
  return `${label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} ${percent} ${perSecond}${eta}`
}

export const make = (options: ProgressOptions): Effect.Effect<Progress> =>
  Effect.map(Clock.currentTimeMillis, (start): Progress => {
    const tty = process.stderr.isTTY === true
    const every = options.everyMillis ?? (tty ? 100 : 2000)
    let done = 0
    let last = start
    const rateAt = (now: number) => (now > start ? (done * 1000) / (now - start) : 0)
    const write = (now: number, final: boolean) =>
      Effect.sync(() => {
        const text = render(options.label, done, options.total, rateAt(now), tty)
        process.stderr.write(tty ? `\r${text}${final ? "\n" : ""}` : `${text}\n`)
      })
    return {
      advance: (n) =>
        options.enabled
          ? Effect.flatMap(Clock.currentTimeMillis, (now) => {
            done += n
            if (now - last < every) return Effect.void
            last = now
            return write(now, false)
          })
          : Effect.sync(() => {
            done += n
          }),
      done: options.enabled ? Effect.flatMap(Clock.currentTimeMillis, (now) => write(now, true)) : Effect.void
    }
  })
