/** What the pureimage charts share: a white canvas with the chart font, panel frames, and writing the PNG. */
import { createWriteStream, mkdirSync } from "node:fs";
import path from "node:path";
import * as PImage from "pureimage";
import { FONT, loadFont } from "./chart-font";

export type Context = ReturnType<PImage.Bitmap["getContext"]>;

/** Where a panel stands on the canvas (its plot area), and its title. */
export interface PanelFrame {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
  readonly title: string;
}

/** A white canvas of `width` × `height`, once the chart font is loaded. */
export async function whiteCanvas(width: number, height: number): Promise<{ image: PImage.Bitmap; ctx: Context }> {
  await loadFont();
  const image = PImage.make(width, height);
  const ctx = image.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, width, height);
  return { image, ctx };
}

/** Writes `image` to `file` as a PNG (creating its folder); resolves once the file is complete. */
export async function writePng(image: PImage.Bitmap, file: string): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  await new Promise<void>((resolve, reject) => {
    const stream = createWriteStream(file);
    stream.once("finish", resolve);
    stream.once("error", reject);
    PImage.encodePNGToStream(image, stream).catch(reject);
  });
}

/** Draws the panel's title `titleGap` px above it, then sets the context for its grid: `labelPt` labels, thin light lines. */
export function startPanel(ctx: Context, panel: PanelFrame, sizes: { readonly titlePt: number; readonly titleGap: number; readonly labelPt: number }): void {
  ctx.fillStyle = "#000000";
  ctx.font = `${sizes.titlePt}pt ${FONT}`;
  ctx.fillText(panel.title, panel.x, panel.y - sizes.titleGap);
  ctx.font = `${sizes.labelPt}pt ${FONT}`;
  ctx.strokeStyle = "#dddddd";
  ctx.lineWidth = 1;
}
