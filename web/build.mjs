// The front-end build: esbuild bundles the Help widget (a small launcher plus chunks it loads on
// demand), the demo host page, the support console and the public contacts page (/support/), each
// with chunks of its own, and copies
// their HTML. `node build.mjs` → dist/; `node build.mjs --watch` rebuilds on change.
import { build, context } from "esbuild";
import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { join } from "node:path";

const watch = process.argv.includes("--watch");
const dist = "dist";

const common = {
  outdir: dist,
  bundle: true,
  splitting: true,
  format: "esm",
  target: ["chrome110", "firefox115", "safari16"],
  minify: true,
  sourcemap: "linked",
  legalComments: "none",
  loader: { ".css": "text" },
  jsx: "automatic",
  jsxImportSource: "preact",
  metafile: true,
  logLevel: "warning",
};

const builds = [
  {
    ...common,
    entryPoints: { "widget/otelms-help": "src/widget/launcher.ts", "demo/demo": "demo/demo.ts" },
    chunkNames: "widget/chunks/[name]-[hash]",
  },
  {
    ...common,
    entryPoints: { "console/console": "src/console/main.tsx" },
    chunkNames: "console/chunks/[name]-[hash]",
  },
  {
    ...common,
    entryPoints: { "support/support": "src/support/main.tsx" },
    chunkNames: "support/chunks/[name]-[hash]",
  },
];

async function copyStatic() {
  await mkdir(join(dist, "demo"), { recursive: true });
  await mkdir(join(dist, "console"), { recursive: true });
  await cp("demo/index.html", join(dist, "index.html"));
  await cp("demo/demo.css", join(dist, "demo", "demo.css"));
  await cp("console/index.html", join(dist, "console", "index.html"));
  await cp("console/console.css", join(dist, "console", "console.css"));
  await cp("console/chats.css", join(dist, "console", "chats.css"));
  await cp("console/requests.css", join(dist, "console", "requests.css"));
  await cp("console/kb.css", join(dist, "console", "kb.css"));
  await mkdir(join(dist, "support"), { recursive: true });
  await cp("support/index.html", join(dist, "support", "index.html"));
  await cp("src/widget/sections/contacts.css", join(dist, "support", "contacts.css"));
  await cp("support/support.css", join(dist, "support", "support.css"));
}

async function report(metafiles) {
  const sizes = {};
  for (const metafile of metafiles) {
    for (const [file, info] of Object.entries(metafile.outputs)) {
      if (!file.endsWith(".js")) continue;
      const gz = gzipSync(await readFile(file)).length;
      sizes[file.slice(dist.length + 1)] = { bytes: info.bytes, gzip: gz, entry: info.entryPoint ?? null };
    }
  }
  await writeFile(join(dist, "sizes.json"), JSON.stringify(sizes, null, 2));
}

await rm(dist, { recursive: true, force: true });
if (watch) {
  for (const options of builds) await (await context(options)).watch();
  await copyStatic();
  console.log("watching src/, demo/ and console/ …");
} else {
  const results = await Promise.all(builds.map((options) => build(options)));
  await copyStatic();
  await report(results.map((r) => r.metafile));
}
