// Eleventy Image (sharp/libvips) on the variants workload:
//   node render.mjs SRC OUT
// every PNG in SRC -> WebP 768 q80, WebP 1536 q80, JPEG 1024 q85; prints the bytes written.
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import Image from "@11ty/eleventy-img";

const [src, out] = process.argv.slice(2);
const names = (await readdir(src)).filter((name) => name.endsWith(".png")).sort();
const options = (widths, formats) => ({
  widths, formats, outputDir: out, useCache: false, dryRun: false,
  sharpWebpOptions: { quality: 80 }, sharpJpegOptions: { quality: 85 },
  filenameFormat: (id, file, width, format) =>
    `${path.parse(file).name}-${width}.${format === "jpeg" ? "jpg" : format}`,
});
await Promise.all(names.map(async (name) => {
  const file = path.join(src, name);
  await Image(file, options([768, 1536], ["webp"]));
  await Image(file, options([1024], ["jpeg"]));
}));
let total = 0;
for (const name of await readdir(out)) total += (await stat(path.join(out, name))).size;
console.log(total);
