// Builds dist/cursorprint.esm.js (ES module) and dist/cursorprint.min.js (classic <script>,
// global `cursorprint`), both minified by esbuild. The classic build assigns the global itself
// (esbuild's `globalName` wraps the exports in a module-namespace helper that costs ~200 bytes
// of the 3 KB min+gzip budget).
import { build } from "esbuild";

const common = { bundle: true, minify: true, target: ["es2019"], legalComments: "none" };
await build({ ...common, entryPoints: ["src/collector.js"], format: "esm",
  outfile: "dist/cursorprint.esm.js" });
await build({ ...common, format: "iife", outfile: "dist/cursorprint.min.js",
  stdin: { contents: 'import { start } from "./src/collector.js"; window.cursorprint = { start };',
           resolveDir: ".", sourcefile: "classic.js" } });
