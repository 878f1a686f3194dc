// The front-end build: esbuild bundles the widget (a small launcher plus chunks it loads on demand)
// and copies the demo host page. `node build.mjs` → dist/; `node build.mjs --watch` rebuilds on change.
import { build, context } from "esbuild";
import { cp, mkdir, rm, writeFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { readFile } from "node:fs/promises";
import { join } from "node:path";

const watch = process.argv.includes("--watch");
const dist = "dist";

const options = {
  entryPoints: {
    "widget/otelms-help": "src/widget/launcher.ts",
    "demo/demo": "demo/demo.ts",
  },
  outdir: dist,
  bundle: true,
  splitting: true,
  format: "esm",
  target: ["chrome110", "firefox115", "safari16"],
  minify: true,
  sourcemap: "linked",
  legalComments: "none",
  chunkNames: "widget/chunks/[name]-[hash]",
  loader: { ".css": "text" },
  jsx: "automatic",
  jsxImportSource: "preact",
  metafile: true,
  logLevel: "warning",
};

async function copyStatic() {
  await cp("demo/index.html", join(dist, "index.html"));
  await cp("demo/demo.css", join(dist, "demo", "demo.css"));
}

async function report(metafile) {
  const sizes = {};
  for (const [file, info] of Object.entries(metafile.outputs)) {
    if (!file.endsWith(".js")) continue;
    const gz = gzipSync(await readFile(file)).length;
    sizes[file.slice(dist.length + 1)] = { bytes: info.bytes, gzip: gz, entry: info.entryPoint ?? null };
  }
  await writeFile(join(dist, "widget", "sizes.json"), JSON.stringify(sizes, null, 2));
}

await rm(dist, { recursive: true, force: true });
await mkdir(join(dist, "demo"), { recursive: true });
if (watch) {
  const ctx = await context(options);
  await copyStatic();
  await ctx.watch();
  console.log("watching src/ and demo/ …");
} else {
  const result = await build(options);
  await copyStatic();
  await report(result.metafile);
}
