import { Figures } from "@effect-snapshots/reliability"
import * as Effect from "effect/Effect"
import { inject } from "vitest"

/** Record one section's figures for the closing block (summed over every call of the run). */
export const record = (section: string, figures: Partial<Figures.Figures>, durationMs?: number): void =>
  Figures.write(inject("reliabilityFiguresDir"), section, figures, durationMs)

/** `record` as an Effect. */
export const recordEffect = (section: string, figures: Partial<Figures.Figures>, durationMs?: number) =>
  Effect.sync(() => record(section, figures, durationMs))
