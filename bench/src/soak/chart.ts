/** The soak chart as a PNG (pureimage): RSS and heap of every node, Redis memory and the backlogs over time. */
import { startPanel, whiteCanvas, writePng, type Context, type PanelFrame } from "../chart-canvas";
import { FONT } from "../chart-font";
import type { Sample } from "./sampler";

const WIDTH = 1200;
const HEIGHT = 760;
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const MIB = 1024 * 1024;

interface Line {
  readonly label: string;
  readonly points: readonly { t: number; v: number }[];
}

interface Panel extends PanelFrame {
  readonly lines: readonly Line[];
}

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

function drawPanel(ctx: Context, panel: Panel, tMax: number, warmupS: number): void {
  const yMax = niceMax(Math.max(1, ...panel.lines.flatMap((line) => line.points.map((point) => point.v))) * 1.1);
  const sx = (t: number) => panel.x + (t / Math.max(tMax, 1)) * panel.w;
  const sy = (v: number) => panel.y + panel.h - (v / yMax) * panel.h;
  startPanel(ctx, panel, { titlePt: 14, titleGap: 10, labelPt: 10 });
  for (let i = 0; i <= 4; i++) {
    const value = (yMax * i) / 4;
    ctx.beginPath();
    ctx.moveTo(panel.x, sy(value));
    ctx.lineTo(panel.x + panel.w, sy(value));
    ctx.stroke();
    ctx.fillStyle = "#444444";
    const text = String(Math.round(value * 10) / 10);
    ctx.fillText(text, panel.x - 6 - ctx.measureText(text).width, sy(value) + 4);
  }
  for (let i = 0; i <= 5; i++) {
    const t = (tMax * i) / 5;
    const text = `${Math.round(t / 6) / 10} min`;
    ctx.fillStyle = "#444444";
    ctx.fillText(text, sx(t) - ctx.measureText(text).width / 2, panel.y + panel.h + 16);
  }
  // Warm-up shaded: growth is measured after it.
  ctx.fillStyle = "rgba(0,0,0,0.06)";
  ctx.fillRect(panel.x, panel.y, sx(Math.min(warmupS, tMax)) - panel.x, panel.h);
  ctx.strokeStyle = "#000000";
  ctx.strokeRect(panel.x, panel.y, panel.w, panel.h);
  panel.lines.forEach((line, index) => {
    const color = PALETTE[index % PALETTE.length]!;
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    if (line.points.length > 1) {
      ctx.beginPath();
      line.points.forEach((point, i) => (i === 0 ? ctx.moveTo(sx(point.t), sy(point.v)) : ctx.lineTo(sx(point.t), sy(point.v))));
      ctx.stroke();
    }
    ctx.fillStyle = color;
    const legendY = panel.y + 14 + index * 16;
    ctx.fillRect(panel.x + panel.w + 10, legendY - 9, 10, 10);
    ctx.fillStyle = "#000000";
    ctx.fillText(line.label, panel.x + panel.w + 24, legendY);
  });
}

function perNode(samples: readonly Sample[], pick: (sample: Sample) => Readonly<Record<string, number>>): Line[] {
  const nodes = [...new Set(samples.flatMap((sample) => Object.keys(pick(sample))))].sort();
  return nodes.map((node) => ({
    label: node,
    points: samples.flatMap((sample) => {
      const value = pick(sample)[node];
      return value === undefined ? [] : [{ t: sample.t, v: value / MIB }];
    }),
  }));
}

/** Draws the soak's samples into `file` (PNG); the shaded band is the warm-up. */
export async function renderSoakChart(samples: readonly Sample[], warmupS: number, file: string): Promise<void> {
  const { image, ctx } = await whiteCanvas(WIDTH, HEIGHT);
  const tMax = Math.max(1, ...samples.map((sample) => sample.t));
  const w = 390;
  const h = 250;
  drawPanel(ctx, { x: 70, y: 40, w, h, title: "RSS per node, MiB", lines: perNode(samples, (sample) => sample.rss) }, tMax, warmupS);
  drawPanel(ctx, { x: 660, y: 40, w, h, title: "heap used per node, MiB", lines: perNode(samples, (sample) => sample.heap) }, tMax, warmupS);
  drawPanel(ctx, { x: 70, y: 400, w, h, title: "Redis used_memory, MiB", lines: [{ label: "redis", points: samples.map((sample) => ({ t: sample.t, v: sample.redisUsedMemory / MIB })) }] }, tMax, warmupS);
  drawPanel(
    ctx,
    {
      x: 660,
      y: 400,
      w,
      h,
      title: "unsent messages",
      lines: [
        { label: "API outbox", points: samples.map((sample) => ({ t: sample.t, v: sample.apiOutboxBacklog })) },
        { label: "SDK outboxes", points: samples.map((sample) => ({ t: sample.t, v: sample.clientOutboxBacklog })) },
      ],
    },
    tMax,
    warmupS,
  );
  ctx.fillStyle = "#444444";
  ctx.font = `10pt ${FONT}`;
  ctx.fillText("shaded: warm-up (growth is measured after it); x: minutes since the load started", 70, HEIGHT - 12);
  await writePng(image, file);
}
