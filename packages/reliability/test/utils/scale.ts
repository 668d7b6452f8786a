/**
 * CI runs the reliability suite at full scale; a newcomer's `pnpm test` (no `CI` variable) runs the slowest
 * memory sections smaller, so the whole suite stays within a few minutes on two cores. The real-server
 * sections need `PG_URL` and run at one scale.
 */
export const onCi = (process.env.CI ?? "") !== "" && process.env.CI !== "false"

/** `full` on CI, `newcomer` otherwise. */
export const scaled = (full: number, newcomer: number): number => (onCi ? full : newcomer)
