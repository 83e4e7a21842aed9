/**
 * The fanout chart as a PNG, drawn in pure JavaScript (pureimage, with DejaVu Sans from an npm package): no browser,
 * no system fonts, the same picture on a clean machine. Left: deliveries/s against the offered rate; right: p99.
 */
import { startPanel, whiteCanvas, writePng, type Context, type PanelFrame } from "../chart-canvas";
import { FONT } from "../chart-font";
import type { FanoutRun, StepResult } from "./run-fanout";
import type { TargetName } from "./targets";

const WIDTH = 1200;
const HEIGHT = 520;
const COLORS: Readonly<Record<TargetName, string>> = { parley: "#1f77b4", "parley-baseline": "#9467bd", socketio: "#ff7f0e", relay: "#2ca02c" };

interface Panel extends PanelFrame {
  readonly value: (step: StepResult) => number;
  /** A horizontal reference line (the p99 limit). */
  readonly limit?: number;
}

/** 1, 2, 5, 10, 20, 50, ... covering [min, max]. */
function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let exponent = Math.floor(Math.log10(min)); exponent <= Math.ceil(Math.log10(max)); exponent++) {
    for (const m of [1, 2, 5]) {
      const value = m * 10 ** exponent;
      if (value >= min && value <= max) ticks.push(value);
    }
  }
  return ticks;
}

function label(value: number): string {
  if (value >= 1_000_000) return `${value / 1_000_000}M`;
  if (value >= 1000) return `${value / 1000}k`;
  return String(value);
}

function drawPanel(ctx: Context, panel: Panel, run: FanoutRun, xRange: readonly [number, number]): void {
  const values = run.targets.flatMap((target) => target.steps.map(panel.value)).filter((v) => v > 0 && Number.isFinite(v));
  if (panel.limit !== undefined) values.push(panel.limit);
  if (values.length === 0) values.push(1);
  const yMin = Math.max(0.1, 10 ** Math.floor(Math.log10(Math.min(...values))));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(...values, yMin * 10)));
  const [xMin, xMax] = xRange;
  const sx = (v: number) => panel.x + ((Math.log10(v) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * panel.w;
  const sy = (v: number) => panel.y + panel.h - ((Math.log10(Math.max(v, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * panel.h;

  startPanel(ctx, panel, { titlePt: 16, titleGap: 14, labelPt: 11 });
  for (const tick of logTicks(yMin, yMax)) {
    ctx.beginPath();
    ctx.moveTo(panel.x, sy(tick));
    ctx.lineTo(panel.x + panel.w, sy(tick));
    ctx.stroke();
    ctx.fillStyle = "#444444";
    ctx.fillText(label(tick), panel.x - 8 - ctx.measureText(label(tick)).width, sy(tick) + 5);
  }
  for (const tick of logTicks(xMin, xMax)) {
    ctx.beginPath();
    ctx.moveTo(sx(tick), panel.y);
    ctx.lineTo(sx(tick), panel.y + panel.h);
    ctx.stroke();
    ctx.fillStyle = "#444444";
    ctx.fillText(label(tick), sx(tick) - ctx.measureText(label(tick)).width / 2, panel.y + panel.h + 20);
  }
  ctx.strokeStyle = "#000000";
  ctx.strokeRect(panel.x, panel.y, panel.w, panel.h);
  ctx.fillStyle = "#000000";
  ctx.fillText("offered messages/s", panel.x + panel.w / 2 - 60, panel.y + panel.h + 42);
  if (panel.limit !== undefined) {
    ctx.strokeStyle = "#cc0000";
    ctx.lineWidth = 1;
    const y = sy(panel.limit);
    for (let x = panel.x; x < panel.x + panel.w; x += 12) {
      ctx.beginPath();
      ctx.moveTo(x, y);
      ctx.lineTo(Math.min(x + 6, panel.x + panel.w), y);
      ctx.stroke();
    }
  }
  // Reverse order: the first target (Parley) is drawn last, on top of lines it overlaps.
  for (const target of [...run.targets].reverse()) {
    const points = target.steps.filter((step) => panel.value(step) > 0).map((step) => ({ x: sx(step.offered_rate), y: sy(panel.value(step)), clean: step.clean }));
    const color = COLORS[target.name];
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineWidth = 2;
    if (points.length > 1) {
      ctx.beginPath();
      points.forEach((point, i) => (i === 0 ? ctx.moveTo(point.x, point.y) : ctx.lineTo(point.x, point.y)));
      ctx.stroke();
    }
    for (const point of points) {
      // Clean steps are filled squares; saturated ones hollow.
      if (point.clean) ctx.fillRect(point.x - 4, point.y - 4, 8, 8);
      else ctx.strokeRect(point.x - 5, point.y - 5, 10, 10);
    }
  }
}

/** Draws the chart of `run` into `file` (PNG). */
export async function renderChart(run: FanoutRun, file: string): Promise<void> {
  const { image, ctx } = await whiteCanvas(WIDTH, HEIGHT);
  const rates = run.targets.flatMap((target) => target.steps.map((step) => step.offered_rate));
  const xRange: [number, number] = [10 ** Math.floor(Math.log10(Math.min(...rates, 10))), 10 ** Math.ceil(Math.log10(Math.max(...rates, 100)))];
  drawPanel(ctx, { x: 90, y: 50, w: 460, h: 330, title: "deliveries/s (log)", value: (step) => step.deliveries_per_s }, run, xRange);
  drawPanel(ctx, { x: 700, y: 50, w: 460, h: 330, title: "p99 send→deliver, ms (log; red: limit)", value: (step) => step.latency_ms.p99, limit: run.settings.p99LimitMs }, run, xRange);
  ctx.font = `12pt ${FONT}`;
  let x = 90;
  for (const target of run.targets) {
    ctx.fillStyle = COLORS[target.name];
    ctx.fillRect(x, HEIGHT - 38, 16, 16);
    ctx.fillStyle = "#000000";
    ctx.fillText(target.label, x + 22, HEIGHT - 24);
    x += 30 + ctx.measureText(target.label).width + 20;
  }
  ctx.fillStyle = "#444444";
  ctx.font = `10pt ${FONT}`;
  ctx.fillText("filled: clean step; hollow: saturated (loss, p99 over the limit, or generator behind)", 90, HEIGHT - 4);
  await writePng(image, file);
}
