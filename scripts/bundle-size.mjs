// Prints the client bundle's sizes (raw, gzip, brotli) from target/site/pkg.
import { readFileSync, readdirSync } from "node:fs";
import { gzipSync, brotliCompressSync, constants } from "node:zlib";
const dir = process.argv[2] ?? "target/site/pkg";
const kb = (n) => (n / 1024).toFixed(1).padStart(9) + " KB";
let total = [0, 0, 0];
console.log("file".padEnd(22) + "raw".padStart(12) + "gzip".padStart(12) + "brotli".padStart(12));
for (const f of readdirSync(dir).filter((f) => /\.(wasm|js|css)$/.test(f)).sort()) {
  const b = readFileSync(`${dir}/${f}`);
  const g = gzipSync(b, { level: 9 }).length;
  const br = brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  total = [total[0] + b.length, total[1] + g, total[2] + br];
  console.log(f.padEnd(22) + kb(b.length) + kb(g) + kb(br));
}
console.log("total".padEnd(22) + kb(total[0]) + kb(total[1]) + kb(total[2]));
