// Builds dist/cursorprint.esm.js (ES module) and dist/cursorprint.min.js (classic <script>,
// global `cursorprint`), both minified by esbuild.
import { build } from "esbuild";

const common = { entryPoints: ["src/collector.js"], bundle: true, minify: true,
  target: ["es2019"], legalComments: "none" };
await build({ ...common, format: "esm", outfile: "dist/cursorprint.esm.js" });
await build({ ...common, format: "iife", globalName: "cursorprint",
  outfile: "dist/cursorprint.min.js" });
