/** Full replays counted, and how many run at once. @internal */
import { EventStore } from "@effect-snapshots/loader/EventStore"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"

/**
 * How many full replays (stream reads from the start) run at once, at most, and in all.
 *
 * @since 0.1.0
 */
export interface ReplayGauge {
  /** Count only while true (switch off for checks that read streams themselves). */
  active: boolean
  current: number
  max: number
  total: number
}

/**
 * @since 0.1.0
 */
export const makeReplayGauge = (): ReplayGauge => ({ active: true, current: 0, max: 0, total: 0 })

/**
 * Wrap an EventStore so that every `read` without `fromVersion` (a full replay; a tail read after a
 * snapshot always gives one) is counted while its stream runs.
 *
 * @since 0.1.0
 */
export const countFullReplays = (inner: EventStore["Service"], gauge: ReplayGauge): EventStore["Service"] => ({
  ...inner,
  read: (type, id, options) => {
    if (options?.fromVersion !== undefined && options.fromVersion > 1) return inner.read(type, id, options)
    return Stream.unwrap(
      Effect.acquireRelease(
        Effect.sync(() => {
          const counted = gauge.active
          if (counted) {
            gauge.current++
            gauge.total++
            if (gauge.current > gauge.max) gauge.max = gauge.current
          }
          return counted
        }),
        (counted) => Effect.sync(() => counted && gauge.current--)
      ).pipe(Effect.as(inner.read(type, id, options)))
    )
  }
})

/**
 * @since 0.1.0
 */
export const layerCountFullReplays =
  (gauge: ReplayGauge) => <E, R>(inner: Layer.Layer<EventStore, E, R>): Layer.Layer<EventStore, E, R> =>
    Layer.effect(EventStore, Effect.map(EventStore, (s) => countFullReplays(s, gauge))).pipe(Layer.provide(inner))
