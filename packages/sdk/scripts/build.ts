/**
 * Builds the browser bundle of @parley/sdk (ESM, minified, every dependency included) into dist/ and prints its size
 * minified and gzipped: the number docs/SDK.md reports. `node --import tsx scripts/build.ts [--json]`.
 */
import { build, type Plugin } from "esbuild";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface BundleSize {
  readonly file: string;
  readonly minifiedBytes: number;
  readonly gzipBytes: number;
  /** Bytes of the minified output per input package (zod, @parley/protocol, the SDK itself). */
  readonly byPackage: Readonly<Record<string, number>>;
}

/**
 * zod's namespace object carries every locale (~260 KiB minified) although only English, its default, is ever used:
 * the browser build links the locale index to English alone. Validation is unchanged; error texts are zod's English.
 */
const englishOnlyZodLocales: Plugin = {
  name: "zod-english-only",
  setup(bundle) {
    bundle.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, (args) => ({
      contents: 'export { default as en } from "./en.js";\n',
      resolveDir: path.dirname(args.path),
      loader: "js",
    }));
  },
};

export async function buildBrowserBundle(outDir = path.join(root, "dist")): Promise<BundleSize> {
  const result = await build({
    entryPoints: [path.join(root, "src/index.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    metafile: true,
    write: false,
    legalComments: "none",
    plugins: [englishOnlyZodLocales],
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error("esbuild wrote nothing");
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, "parley-sdk.browser.js");
  writeFileSync(file, output.contents);
  const byPackage: Record<string, number> = {};
  for (const meta of Object.values(result.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(meta.inputs)) {
      const name = /.*node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? (input.includes("protocol/src") ? "@parley/protocol" : "@parley/sdk");
      byPackage[name] = (byPackage[name] ?? 0) + bytesInOutput;
    }
  }
  return { file: path.relative(root, file), minifiedBytes: output.contents.byteLength, gzipBytes: gzipSync(output.contents, { level: 9 }).byteLength, byPackage };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const size = await buildBrowserBundle();
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  process.stdout.write(
    process.argv.includes("--json")
      ? `${JSON.stringify(size)}\n`
      : [
          `${size.file}: ${kib(size.minifiedBytes)} minified, ${kib(size.gzipBytes)} gzip`,
          ...Object.entries(size.byPackage)
            .sort((a, b) => b[1] - a[1])
            .map(([name, bytes]) => `  ${name}: ${kib(bytes)} minified`),
          "",
        ].join("\n"),
  );
}
