/** DejaVu Sans from an npm package for pureimage charts: no system fonts, the same picture on a clean machine. */
import { createRequire } from "node:module";
import path from "node:path";
import * as PImage from "pureimage";

export const FONT = "DejaVuSans";
let fontLoaded: Promise<void> | undefined;

export function loadFont(): Promise<void> {
  fontLoaded ??= (() => {
    const require = createRequire(import.meta.url);
    const file = path.join(path.dirname(require.resolve("dejavu-fonts-ttf/package.json")), "ttf", "DejaVuSans.ttf");
    return PImage.registerFont(file, FONT).load();
  })();
  return fontLoaded;
}
