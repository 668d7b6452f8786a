/**
 * The chart: load time against history length, with and without a snapshot, on log-log axes, one line per
 * backend and mode. Rendered headless by vega to an SVG string.
 */
import * as vega from "vega"
import * as vegaLite from "vega-lite"

export interface ChartPoint {
  readonly backend: string
  readonly events: number
  readonly withSnapshotMs: number
  readonly fullReplayMs: number
}

export const render = async (points: ReadonlyArray<ChartPoint>, title: string): Promise<string> => {
  const values = points.flatMap((p) => [
    {
      backend: p.backend,
      events: p.events,
      mode: "full replay",
      series: `${p.backend}, full replay`,
      ms: p.fullReplayMs
    },
    {
      backend: p.backend,
      events: p.events,
      mode: "with snapshot",
      series: `${p.backend}, with snapshot`,
      ms: p.withSnapshotMs
    }
  ])
  const spec: vegaLite.TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: title, subtitle: "median load time; snapshot every 100 events (tail of 50 events)" },
    width: 560,
    height: 340,
    background: "white",
    data: { values },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "events", type: "quantitative", scale: { type: "log" }, title: "events in the stream" },
      y: { field: "ms", type: "quantitative", scale: { type: "log" }, title: "load time (ms, log scale)" },
      color: {
        field: "mode",
        type: "nominal",
        title: "load",
        scale: { domain: ["full replay", "with snapshot"], range: ["#d62728", "#1f77b4"] }
      },
      strokeDash: { field: "backend", type: "nominal", title: "backend", legend: { labelLimit: 400 } },
      shape: { field: "backend", type: "nominal", title: "backend" },
      detail: { field: "series", type: "nominal" }
    }
  }
  const compiled = vegaLite.compile(spec).spec
  const view = new vega.View(vega.parse(compiled), { renderer: "none" })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}
